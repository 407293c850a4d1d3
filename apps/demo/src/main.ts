/** The demo's entry point (`npm start`): not yet built (issue 13). */
export {};
