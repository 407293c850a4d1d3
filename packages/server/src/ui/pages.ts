import { escapeHtml, hidden, layout } from './html.js';

/** What every interaction form carries: where it posts, the sealed request and the anti-CSRF token. */
export interface FormContext {
  /** Form action (same origin). */
  readonly action: string;
  readonly interaction: string;
  readonly csrfToken: string;
}

/** The app asking, shown on every interaction page. */
export interface AppBadge {
  readonly displayName: string;
  readonly publisherDomain: string;
}

function formStart(form: FormContext): string {
  return `<form method="post" action="${escapeHtml(form.action)}">${hidden('interaction', form.interaction)}${hidden('csrf_token', form.csrfToken)}`;
}

function appBadge(app: AppBadge): string {
  const initial = escapeHtml((app.displayName.trim()[0] ?? '?').toUpperCase());
  return `<div class="app"><span class="app-badge" aria-hidden="true">${initial}</span><div><strong>${escapeHtml(app.displayName)}</strong><span>${escapeHtml(app.publisherDomain)}</span></div></div>`;
}

function alert(message: string | undefined): string {
  return message === undefined
    ? ''
    : `<div class="alert" role="alert" id="form-error">${escapeHtml(message)}</div>`;
}

/** The sign-in page: user name and password, prefilled from `login_hint`. */
export function signInPage(input: {
  form: FormContext;
  app: AppBadge;
  loginHint?: string | undefined;
  error?: string | undefined;
}): string {
  const described = input.error === undefined ? '' : ' aria-describedby="form-error"';
  return layout(
    'Sign in',
    `<h1>Sign in</h1>
<p>to continue to the application below.</p>
${appBadge(input.app)}
${alert(input.error)}
${formStart(input.form)}
${hidden('action', 'signin')}
<label for="username">Email or user name</label>
<input id="username" name="username" type="email" autocomplete="username" required autofocus value="${escapeHtml(input.loginHint ?? '')}"${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<div class="actions"><button class="primary" type="submit">Sign in</button></div>
</form>`,
  );
}

/** The account picker (`prompt=select_account`, or several accounts signed in). */
export function accountPickerPage(input: {
  form: FormContext;
  app: AppBadge;
  accounts: readonly { sessionRef: string; displayName: string; userPrincipalName: string }[];
}): string {
  const items = input.accounts
    .map((account) => {
      const initial = escapeHtml((account.displayName.trim()[0] ?? '?').toUpperCase());
      return `<li>${formStart(input.form)}${hidden('action', 'select')}${hidden('session', account.sessionRef)}<button class="account" type="submit"><span class="avatar" aria-hidden="true">${initial}</span><span><strong>${escapeHtml(account.displayName)}</strong><span>${escapeHtml(account.userPrincipalName)}</span></span></button></form></li>`;
    })
    .join('\n');
  return layout(
    'Pick an account',
    `<h1>Pick an account</h1>
<p>to continue to the application below.</p>
${appBadge(input.app)}
<ul class="accounts" aria-label="Signed-in accounts">
${items}
</ul>
${formStart(input.form)}${hidden('action', 'use_another')}<div class="actions"><button class="secondary" type="submit">Use another account</button></div></form>`,
  );
}

/** One permission on the consent page. */
export interface ConsentItem {
  readonly displayName: string;
  readonly description: string;
  readonly resourceName: string;
  readonly adminOnly: boolean;
}

/** The consent page; administrators may also consent for the whole organization. */
export function consentPage(input: {
  form: FormContext;
  app: AppBadge;
  userPrincipalName: string;
  items: readonly ConsentItem[];
  canConsentForOrganization: boolean;
}): string {
  const items = input.items
    .map(
      (item) =>
        `<li><strong>${escapeHtml(item.displayName)}${item.adminOnly ? '<span class="tag">Admin</span>' : ''}</strong><span>${item.description === item.displayName ? '' : `${escapeHtml(item.description)} · `}${escapeHtml(item.resourceName)}</span></li>`,
    )
    .join('\n');
  const organization = input.canConsentForOrganization
    ? `<label class="check"><input type="checkbox" name="consent_organization" value="true"> Consent on behalf of your organization</label>`
    : '';
  return layout(
    'Permissions requested',
    `<h1>Permissions requested</h1>
${appBadge(input.app)}
<p>Signed in as <strong>${escapeHtml(input.userPrincipalName)}</strong>. This app would like to:</p>
<ul class="scopes" aria-label="Requested permissions">
${items}
</ul>
${formStart(input.form)}
${organization}
<p class="fine">Accepting lets this app use your data as its terms of service and privacy statement describe. You can change these permissions later.</p>
<div class="actions"><button class="secondary" type="submit" name="action" value="decline">Cancel</button><button class="primary" type="submit" name="action" value="consent">Accept</button></div>
</form>`,
  );
}

/** The error page, for refusals that cannot go back to the app (unknown client, unregistered redirect URI, …). */
export function errorPage(input: {
  title: string;
  message: string;
  code: number;
  /** The configured `errorCodePrefix` (`TSS` or `AADSTS`). */
  codePrefix: string;
  traceId: string;
  correlationId: string;
  timestamp: string;
}): string {
  return layout(
    input.title,
    `<h1>${escapeHtml(input.title)}</h1>
<div class="alert" role="alert">${escapeHtml(input.message)}</div>
<p>If the problem persists, give these details to the application's developer or your administrator.</p>
<p class="code">Error code: ${escapeHtml(input.codePrefix)}${input.code}<br>Trace ID: ${escapeHtml(input.traceId)}<br>Correlation ID: ${escapeHtml(input.correlationId)}<br>Timestamp: ${escapeHtml(input.timestamp)}</p>`,
  );
}

/**
 * The form_post response (OAuth 2.0 Form Post Response Mode §2): an auto-submitted form. The one inline script
 * is allowed by its hash; without JavaScript the user presses the button.
 */
export function formPostPage(redirectUri: string, fields: Readonly<Record<string, string>>): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => hidden(name, value))
    .join('');
  return layout(
    'Continue',
    `<h1>Continue to the application</h1>
<p>Your browser is sending the sign-in response to the application.</p>
<form method="post" action="${escapeHtml(redirectUri)}" id="response">${inputs}<div class="actions"><button class="primary" type="submit">Continue</button></div></form>
<script>${FORM_POST_SCRIPT}</script>`,
  );
}

/** The inline script of {@link formPostPage} (its SHA-256 goes into the CSP). */
export const FORM_POST_SCRIPT = "document.getElementById('response').submit();";

/** A refusal shown on a page that otherwise succeeded (the sign-out happened; the redirect did not). */
export interface PageNotice {
  readonly message: string;
  readonly code: number;
  /** The configured `errorCodePrefix` (`TSS` or `AADSTS`). */
  readonly codePrefix: string;
}

/** Seconds the signed-out page waits before it returns to the application. */
const SIGNED_OUT_REFRESH_SECONDS = 2;

/**
 * The signed-out page: hidden front-channel logout frames, then a link back to the app (and a refresh to it after
 * {@link SIGNED_OUT_REFRESH_SECONDS}, time for the frames to load) when the return address is registered; otherwise
 * `notice` says why there is none.
 */
export function signedOutPage(input: {
  frames: readonly string[];
  continueTo?: string | undefined;
  notice?: PageNotice | undefined;
}): string {
  const frames = input.frames
    .map(
      (url) =>
        `<iframe class="hidden-frames" title="Signing out of an application" src="${escapeHtml(url)}"></iframe>`,
    )
    .join('\n');
  const next =
    input.continueTo === undefined
      ? '<p>You can close this window.</p>'
      : `<div class="actions"><a class="primary" href="${escapeHtml(input.continueTo)}"><button class="primary" type="button">Return to the application</button></a></div>`;
  const notice =
    input.notice === undefined
      ? ''
      : `<div class="alert" role="alert">${escapeHtml(input.notice.message)}</div>
<p class="code">Error code: ${escapeHtml(input.notice.codePrefix)}${input.notice.code}</p>`;
  return layout(
    'Signed out',
    `<h1>You signed out</h1>
<p>You are signed out of your account in this browser, and applications you used are being signed out too.</p>
${notice}
${frames}
${next}`,
    input.continueTo === undefined
      ? {}
      : {
          head: `<meta http-equiv="refresh" content="${SIGNED_OUT_REFRESH_SECONDS};url=${escapeHtml(input.continueTo)}">`,
        },
  );
}

/**
 * "Pick an account to sign out": the confirmation a sign-out request needs when nothing in it (`id_token_hint`, a
 * `logout_hint` of an account signed in here) proves the user asked for it (OIDC RP-Initiated Logout 1.0 §2). One
 * form per account, and one for all of them when there are several; each carries the sealed request and the
 * anti-CSRF token.
 */
export function signOutPickerPage(input: {
  /** Form action (same origin). */
  action: string;
  /** Hidden fields of every form: the sealed sign-out request and the anti-CSRF token. */
  fields: Readonly<Record<string, string>>;
  accounts: readonly { sessionRef: string; displayName: string; userPrincipalName: string }[];
}): string {
  const start = (session: string) =>
    `<form method="post" action="${escapeHtml(input.action)}">${Object.entries(input.fields)
      .map(([name, value]) => hidden(name, value))
      .join('')}${hidden('session', session)}`;
  const items = input.accounts
    .map((account) => {
      const initial = escapeHtml((account.displayName.trim()[0] ?? '?').toUpperCase());
      return `<li>${start(account.sessionRef)}<button class="account" type="submit"><span class="avatar" aria-hidden="true">${initial}</span><span><strong>${escapeHtml(account.displayName)}</strong><span>${escapeHtml(account.userPrincipalName)}</span></span></button></form></li>`;
    })
    .join('\n');
  const all =
    input.accounts.length > 1
      ? `${start('all')}<div class="actions"><button class="secondary" type="submit">Sign out of every account</button></div></form>`
      : '';
  return layout(
    'Pick an account to sign out',
    `<h1>Pick an account to sign out</h1>
<p>An application asked to sign you out. Choose the account to sign out of this browser, or close this window to stay signed in.</p>
<ul class="accounts" aria-label="Signed-in accounts">
${items}
</ul>
${all}`,
  );
}

/** The secret an authenticator app is being set up with (the second-factor page of an enrolment). */
export interface AuthenticatorSetup {
  /** The QR code of the `otpauth://` URI, a `data:` URL. */
  readonly qrCodeDataUrl: string;
  /** The Base32 secret, for apps that cannot scan (shown in groups of four). */
  readonly secret: string;
  readonly otpauthUri: string;
}

/**
 * The second-factor page: "Enter the code from your authenticator app", or — not enrolled — "Set up your
 * authenticator app" with the QR code and the secret in text, then the first code.
 */
export function mfaPage(input: {
  form: FormContext;
  app: AppBadge;
  userPrincipalName: string;
  setup?: AuthenticatorSetup | undefined;
  error?: string | undefined;
}): string {
  const described = input.error === undefined ? '' : ' aria-describedby="form-error"';
  const setup = input.setup;
  const title = setup === undefined ? 'Enter your verification code' : 'Set up your authenticator app';
  const intro =
    setup === undefined
      ? `<p>Signed in as <strong>${escapeHtml(input.userPrincipalName)}</strong>. Your organization requires a second verification. Enter the code from your authenticator app.</p>`
      : `<p>Signed in as <strong>${escapeHtml(input.userPrincipalName)}</strong>. Your organization requires a second verification. Scan this QR code with an authenticator app (Microsoft Authenticator, Google Authenticator, 1Password, …), then enter the code it shows.</p>
<img class="qr" src="${escapeHtml(setup.qrCodeDataUrl)}" alt="QR code to add Tessera to your authenticator app" width="200" height="200">
<p>Can't scan it? Enter this key in the app instead:</p>
<p class="secret" id="totp-secret" data-otpauth-uri="${escapeHtml(setup.otpauthUri)}">${escapeHtml(setup.secret.replace(/(.{4})(?=.)/g, '$1 '))}</p>`;
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
${appBadge(input.app)}
${intro}
${alert(input.error)}
${formStart(input.form)}
${hidden('action', 'verify_code')}
<label for="otc">Enter the code from your authenticator app</label>
<input id="otc" name="otc" type="text" inputmode="numeric" pattern="[0-9 ]{6,7}" maxlength="7" autocomplete="one-time-code" required autofocus${described}>
<div class="actions"><button class="primary" type="submit">Verify</button></div>
</form>`,
  );
}
