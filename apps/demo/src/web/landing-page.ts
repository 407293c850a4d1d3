/**
 * The landing page of the demo web site: static HTML, one script and one stylesheet from the same origin (the
 * page's CSP allows nothing inline). The script fills the page from `GET /demo/scenario` and `GET /demo/events`
 * with `textContent` only, so nothing a token or a user typed is ever parsed as HTML.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The security rules of the seeds, and where the demo shows each holding. */
export const SECURITY_RULES: readonly { readonly rule: string; readonly shown: string }[] = [
  {
    rule: 'Tokens go only to configured origins',
    shown:
      'The SPA attaches its access token to requests for the Todo API’s origin only; the Todo API’s CORS allows the ' +
      'demo site’s origin only, and the identity server answers CORS on its token endpoint only for origins of ' +
      'registered spa redirect URIs.',
  },
  {
    rule: 'Bearer tokens, not cookies, to the APIs',
    shown:
      'No API reads a cookie, so a cross-site page cannot make the browser call them with the user’s rights (seed 000).',
  },
  {
    rule: 'The connection token is not the connection id',
    shown:
      'The hub’s negotiate answer carries a public connectionId and a separate 128-bit connectionToken; every request on ' +
      'the connection must carry the same user, or it gets 403 (seed 002).',
  },
  {
    rule: 'Groups are decided on the server',
    shown:
      'A hub connection joins its tenant’s team from the token’s tid; no method lets a client name a group.',
  },
  {
    rule: 'Authorization by role',
    shown:
      'Only holders of the Todo.Moderator app role (Alice) can clear the chat; others get “unauthorized”.',
  },
  {
    rule: 'No exception details reach clients',
    shown:
      'API errors are { error, error_description } with a 4xx status; hub errors are a generic message unless thrown ' +
      'as a HubError.',
  },
  {
    rule: 'On-Behalf-Of keeps the user',
    shown:
      'The Todo API exchanges the user’s token for a directory token for the same oid; app-only tokens and id_tokens are ' +
      'refused as assertions, and the scope must be consented (seed 001).',
  },
  {
    rule: 'Application permissions come from a tenant’s administrator',
    shown:
      'The daemon gets roles only in tenants whose administrator approved them on /adminconsent; until then fabrikam ' +
      'refuses it (seed 003).',
  },
  {
    rule: 'Step-up for sensitive actions',
    shown:
      'POST /todos/export requires acrs c1 in the token; without it the API answers 401 insufficient_claims with a ' +
      'claims challenge the SPA sends back to /authorize.',
  },
];

/** The landing page's HTML; `spaBuilt`: link to the Todo SPA at `/`. */
export function landingPage(spaBuilt: boolean): string {
  const rules = SECURITY_RULES.map(
    (r) => `<li><strong>${escapeHtml(r.rule)}.</strong> ${escapeHtml(r.shown)}</li>`,
  ).join('\n        ');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Tessera demo</title>
    <link rel="stylesheet" href="/demo/landing.css">
    <script type="module" src="/demo/landing.js"></script>
  </head>
  <body>
    <header>
      <h1>Tessera demo</h1>
      <p>An identity server, a Todo API with a team chat hub, a report daemon and a Todo SPA, all on this
        machine. Each step below appears as it happens: which grant, which token, its decoded claims, and the
        security rule it shows.</p>
      ${spaBuilt ? '<p><a href="/">Open the Todo SPA</a> (sign in as alice or bob; try the export and the team chat).</p>' : ''}
    </header>
    <main>
      <section aria-labelledby="parts">
        <h2 id="parts">What runs</h2>
        <table aria-label="Parts"><tbody id="urls"></tbody></table>
      </section>
      <section aria-labelledby="users">
        <h2 id="users">Users</h2>
        <p>Passwords are printed in the terminal where the demo runs (they are never served by this page).</p>
        <table aria-label="Users"><tbody id="user-list"></tbody></table>
      </section>
      <section aria-labelledby="daemon">
        <h2 id="daemon">Report daemon and admin consent</h2>
        <p>The daemon takes an app-only token with its certificate (client credentials) in contoso and in fabrikam,
          and reads each tenant's todo totals. Fabrikam refuses it until its administrator approves the daemon's
          application permission.</p>
        <p>
          <a id="admin-consent" href="#">Grant admin consent as fabrikam's administrator</a>
          <button id="run-daemon" type="button">Run the daemon now</button>
        </p>
      </section>
      <section aria-labelledby="flows">
        <h2 id="flows">Flows, as they happen</h2>
        <ol id="events" aria-label="Flow events" reversed></ol>
      </section>
      <section aria-labelledby="rules">
        <h2 id="rules">Why nobody else gets in</h2>
        <ul>
        ${rules}
        </ul>
      </section>
    </main>
  </body>
</html>
`;
}

/** The page the administrator lands on after `/adminconsent`. */
export function consentResultPage(
  kind: 'granted' | 'declined' | 'unknown-state',
  tenant: string | undefined,
  webOrigin: string,
): string {
  const text =
    kind === 'granted'
      ? `Admin consent granted in tenant ${tenant ?? ''}. The report daemon runs there now.`
      : kind === 'declined'
        ? 'The administrator declined: nothing was granted.'
        : 'This answer does not match a consent link this site issued; it was ignored.';
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>Admin consent</title><link rel="stylesheet" href="/demo/landing.css"></head>
  <body><main><h1>Admin consent</h1><p id="consent-result">${escapeHtml(text)}</p>
  <p><a href="${escapeHtml(webOrigin)}/demo/">Back to the demo</a></p></main></body>
</html>
`;
}

/** The landing page's script (an ES module; builds every element with textContent). */
export const LANDING_SCRIPT = `const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls !== undefined) e.className = cls;
  return e;
};
const row = (body, cells) => {
  const tr = el('tr');
  for (const cell of cells) tr.append(el('td', cell));
  body.append(tr);
};

const scenario = await (await fetch('/demo/scenario')).json();
const urls = document.getElementById('urls');
row(urls, ['Identity server', scenario.urls.identity]);
row(urls, ['Todo API and team hub', scenario.urls.api]);
row(urls, ['This site (landing page, Todo SPA)', scenario.urls.web]);
const users = document.getElementById('user-list');
for (const user of scenario.users) row(users, [user.userPrincipalName, user.displayName, user.role]);
document.getElementById('admin-consent').href = scenario.fabrikamAdminConsentUrl;
document.getElementById('run-daemon').addEventListener('click', () => {
  void fetch('/demo/daemon/run', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
});

const list = document.getElementById('events');
const source = new EventSource('/demo/events');
source.onmessage = (message) => {
  const event = JSON.parse(message.data);
  const item = el('li', undefined, 'event ' + event.outcome);
  item.dataset.flow = event.flow;
  const head = el('p');
  head.append(el('span', event.flow.replaceAll('_', ' '), 'flow'), ' ', el('strong', event.title));
  item.append(head, el('p', event.explanation));
  if (event.rules.length > 0) {
    const rules = el('ul', undefined, 'rules');
    for (const rule of event.rules) rules.append(el('li', rule));
    item.append(rules);
  }
  if (event.token !== undefined) {
    const details = el('details');
    details.append(el('summary', 'Decoded token (header and claims; the signature is not shown)'));
    details.append(el('pre', JSON.stringify(event.token, null, 2)));
    item.append(details);
  }
  list.prepend(item);
};
`;

/** The landing page's stylesheet. */
export const LANDING_STYLES = `body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 1rem 2rem; color: #1b1b1b; }
h1 { margin-bottom: 0; }
table { border-collapse: collapse; }
td { padding: 0.2rem 1rem 0.2rem 0; vertical-align: top; }
.event { border-left: 4px solid #2f7d32; margin: 0.8rem 0; padding: 0.2rem 0.8rem; background: #f6f8f6; }
.event.refused { border-left-color: #b3261e; background: #fbf4f3; }
.event p { margin: 0.2rem 0; }
.flow { font: 12px ui-monospace, monospace; text-transform: uppercase; color: #555; }
.rules { margin: 0.2rem 0; color: #333; }
pre { overflow-x: auto; background: #fff; padding: 0.5rem; font-size: 12px; }
button { margin-left: 1rem; }
`;
