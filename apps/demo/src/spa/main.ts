/**
 * The Todo SPA: signs in with `@tessera/spa` (code + PKCE on oidc-client-ts), calls the Todo API with a fetch that
 * attaches the token to the API's origin only (and answers its claims challenges with a step-up sign-in), and joins
 * the team hub with `@microsoft/signalr`. Every element is built with `textContent`: nothing from the API or the
 * chat is parsed as HTML.
 */
import { HubConnectionBuilder, LogLevel, type HubConnection } from '@microsoft/signalr';
import { AuthenticationError, createAuthentication, type AuthorizedFetch } from '@tessera/spa';

/** What the demo web site tells the SPA (`GET /demo/spa-config.json`). */
interface SpaConfig {
  readonly authority: string;
  readonly clientId: string;
  readonly apiUrl: string;
  readonly scope: string;
}

interface Todo {
  readonly id: string;
  readonly title: string;
  readonly done: boolean;
}

interface ChatMessage {
  readonly userName: string;
  readonly text: string;
  readonly sentAt: string;
}

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`#${id} is missing`);
  return element;
}

function input(id: string): HTMLInputElement {
  return byId(id) as HTMLInputElement;
}

function form(id: string): HTMLFormElement {
  return byId(id) as HTMLFormElement;
}

function show(message: string): void {
  byId('error').textContent = message;
}

function item(text: string): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = text;
  return li;
}

const config = (await (await fetch('/demo/spa-config.json')).json()) as SpaConfig;
const auth = createAuthentication({
  authority: config.authority,
  clientId: config.clientId,
  scopes: [config.scope],
});
const api: AuthorizedFetch = auth.createAuthorizedFetch({ baseUrls: [config.apiUrl] });

async function main(): Promise<void> {
  const route = await auth.handleRoute();
  if (route.outcome === 'redirecting') return;
  if (route.outcome === 'failed') show(`Sign-in failed: ${route.message ?? ''}`);
  const user = await auth.getUser();
  const signIn = byId('sign-in');
  const signOut = byId('sign-out');
  signIn.onclick = () => void auth.signIn();
  signOut.onclick = () => void auth.signOut({ returnUrl: '/' });
  if (user === null) {
    byId('who').textContent = 'Not signed in.';
    signIn.hidden = false;
    return;
  }
  byId('who').textContent = `Signed in as ${user.profile.name ?? user.profile.preferred_username ?? ''}`;
  signOut.hidden = false;
  byId('app').hidden = false;
  await loadTodos();
  // A request a claims challenge interrupted (the export) is replayed once after the step-up round trip.
  const resumed = await api.resumePending();
  if (resumed !== undefined) await showExport(resumed);
  wireTodos();
  await joinTeam();
}

async function loadTodos(): Promise<void> {
  const response = await api(`${config.apiUrl}/todos`);
  if (!response.ok) {
    show(`The Todo API answered ${String(response.status)}.`);
    return;
  }
  const { value } = (await response.json()) as { value: Todo[] };
  const list = byId('todos');
  list.replaceChildren(
    ...value.map((todo) => {
      const li = item(todo.title);
      if (todo.done) li.className = 'done';
      const toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.textContent = todo.done ? 'Undo' : 'Done';
      toggle.onclick = () =>
        void api(`${config.apiUrl}/todos/${todo.id}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ done: !todo.done }),
        }).then(loadTodos);
      li.append(toggle);
      return li;
    }),
  );
}

async function showExport(response: Response): Promise<void> {
  const result = byId('export-result');
  if (!response.ok) {
    result.textContent = `Export refused (${String(response.status)}).`;
    return;
  }
  const { value } = (await response.json()) as { value: Todo[] };
  result.textContent = `Exported ${String(value.length)} todos after the step-up.`;
}

function wireTodos(): void {
  form('add-todo').onsubmit = (event) => {
    event.preventDefault();
    const field = input('title');
    void api(`${config.apiUrl}/todos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: field.value }),
    }).then(async () => {
      field.value = '';
      await loadTodos();
    });
  };
  byId('export').onclick = () => {
    api(`${config.apiUrl}/todos/export`, { method: 'POST' }).then(showExport, (error: unknown) => {
      // The claims challenge navigates away to the identity server: nothing to show meanwhile.
      if (!(error instanceof AuthenticationError && error.code === 'interaction_required')) {
        show(error instanceof Error ? error.message : 'The export failed.');
      }
    });
  };
  byId('load-profile').onclick = () =>
    void api(`${config.apiUrl}/me/profile`).then(async (response) => {
      if (!response.ok) {
        show(`The profile could not be read (${String(response.status)}).`);
        return;
      }
      const { profile } = (await response.json()) as { profile: Record<string, string | undefined> };
      const list = byId('profile');
      list.replaceChildren();
      for (const key of ['displayName', 'userPrincipalName', 'id']) {
        const dt = document.createElement('dt');
        dt.textContent = key;
        const dd = document.createElement('dd');
        dd.textContent = profile[key] ?? '';
        list.append(dt, dd);
      }
    });
}

async function joinTeam(): Promise<void> {
  const hub: HubConnection = new HubConnectionBuilder()
    .withUrl(`${config.apiUrl}/hubs/team`, { accessTokenFactory: auth.accessTokenFactory() })
    .withAutomaticReconnect()
    .configureLogging(LogLevel.Warning)
    .build();
  const messages = byId('messages');
  hub.on('message', (message: ChatMessage) => {
    messages.append(item(`${message.userName}: ${message.text}`));
  });
  hub.on('presence', (online: { name: string }[]) => {
    byId('online').textContent = online.map((u) => u.name).join(', ');
  });
  hub.on('cleared', (moderator: string) => {
    messages.replaceChildren(item(`(the chat was cleared by ${moderator})`));
  });
  await hub.start();
  const history = await hub.invoke<ChatMessage[]>('history');
  messages.replaceChildren(...history.map((m) => item(`${m.userName}: ${m.text}`)));
  form('chat').onsubmit = (event) => {
    event.preventDefault();
    const field = input('message');
    hub.invoke('send', field.value).then(
      () => {
        field.value = '';
      },
      (error: unknown) => {
        show(error instanceof Error ? error.message : 'Not sent.');
      },
    );
  };
  byId('clear-chat').onclick = () =>
    void hub.invoke('clearHistory').catch((error: unknown) => {
      show(error instanceof Error ? error.message : 'Not cleared.');
    });
}

main().catch((error: unknown) => {
  show(error instanceof Error ? error.message : 'The app failed to start.');
});
