import { defineHub, HubError, type HubCallerContext } from '@tessera/hub';

/** The hub most tests use. `Data.Write.All` is "admin": Bob has it, Alice does not. */
export const chatHub = defineHub({
  methods: {
    add(_context: HubCallerContext, a: number, b: number) {
      return a + b;
    },
    echo(_context: HubCallerContext, value: unknown) {
      return value;
    },
    whoAmI(context: HubCallerContext) {
      return { connectionId: context.connectionId, userIdentifier: context.userIdentifier ?? null };
    },
    async broadcast(context: HubCallerContext, message: string) {
      await context.clients.all.send('message', context.userIdentifier ?? null, message);
    },
    async tellOthers(context: HubCallerContext, message: string) {
      await context.clients.others.send('message', context.userIdentifier ?? null, message);
    },
    fail() {
      throw new Error('secret detail: connection string Password=hunter2');
    },
    failVisibly() {
      throw new HubError('Visible reason');
    },
    async *counter(context: HubCallerContext, count: number, delayMs: number) {
      for (let index = 0; index < count; index++) {
        if (context.signal.aborted) return;
        yield index;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    },
    async sum(_context: HubCallerContext, numbers: AsyncIterable<number>) {
      let total = 0;
      for await (const value of numbers) total += value;
      return total;
    },
    async askCaller(context: HubCallerContext, question: string) {
      return { answer: await context.clients.caller.invoke('answer', question) };
    },
    async join(context: HubCallerContext, group: string) {
      await context.groups.add(context.connectionId, group);
    },
    async leave(context: HubCallerContext, group: string) {
      await context.groups.remove(context.connectionId, group);
    },
    async sendToGroup(context: HubCallerContext, group: string, message: string) {
      await context.clients.group(group).send('groupMessage', group, message);
    },
    async sendToUser(context: HubCallerContext, userId: string, message: string) {
      await context.clients.user(userId).send('direct', message);
    },
    async sendToConnection(context: HubCallerContext, connectionId: string, message: string) {
      await context.clients.client(connectionId).send('direct', message);
    },
    adminOnly() {
      return 'secret';
    },
    async slow(_context: HubCallerContext, ms: number) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return ms;
    },
  },
  methodOptions: { adminOnly: { policy: { appRoles: ['Data.Write.All'] } } },
  authorizeGroup: (user, group) =>
    !group.startsWith('admin') || (user.claims?.roles ?? []).includes('Data.Write.All'),
});
