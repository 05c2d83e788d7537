// The AMQP side of the simulator, on rhea: what @azure/service-bus 7.9.5 does on the wire (docs/reference/local-tooling.md,
// probe 6, and the SDK's own source) answered link by link.
// - `$cbs`: put-token requests, checked against the namespace key, answered on the link whose target is reply_to.
// - `<queue>` and `<queue>/$DeadLetterQueue` receiver links: deliveries tagged with the lock token, credit and
//   drain honoured, settlement (accepted / modified / rejected) applied and settled back (rcv-settle-mode second).
// - Session links: `com.microsoft:session-filter` in the source names the session (or is null for "next
//   available"); the attach reply echoes the session id and carries `com.microsoft:locked-until-utc`.
// - `<queue>` sender links: single messages and batches (format 0x80013700).
// - `<queue>/$management`: request/response operations (management.ts).
import type { EventEmitter } from 'node:events';
import type { Server, Socket } from 'node:net';
import rhea, { type Connection, type Delivery, type EventContext, type Receiver, type Sender, type Typed } from 'rhea';
import {
  BrokerError,
  amqpInt,
  amqpLong,
  amqpTimestamp,
  encodeDelivery,
  lockTokenToDeliveryTag,
  newLockToken,
  outcomes,
  ticksLong,
  unpackTransfer,
} from './codec.js';
import type { AmqpMessage } from './codec.js';
import type { Disposition, Entity, MessageSession, SessionHolder, SettleOptions } from './entity.js';
import { handleManagement } from './management.js';
import type { FaultOptions } from './options.js';
import { verifySasToken } from './sas.js';
import type { TimerQueue } from './timers.js';

const sessionFilter = 'com.microsoft:session-filter';
const maxMessageSize = 256 * 1024; // Standard tier (service-bus-quotas)
// Server-side wait for acceptNextSession when the client sends no com.microsoft:timeout (SDK default operation timeout).
const defaultAcceptTimeoutMs = 60_000;

type LinkKind = 'cbs' | 'management' | 'entity';

interface RemoteTerminus {
  address?: string;
  filter?: Record<string, unknown>;
}

interface ConnectionState {
  readonly connection: Connection;
  readonly socket: Socket | undefined;
  /** Reply links of $cbs and $management, by their target address and by name (the request's reply_to). */
  readonly replyLinks: Map<string, Sender>;
  /** Entity paths this connection holds a valid token for (lower case; '' is the whole namespace). */
  readonly claims: Map<string, number>;
  readonly consumers: Set<Consumer>;
  readonly pendingAccepts: Set<PendingAccept>;
}

interface PendingDelivery {
  readonly seq: number;
  readonly lockToken: string;
}

/** The part of rhea's session outgoing queue (lib/session.js) the credit check reads. */
interface RheaOutgoing {
  next_pending_delivery: number;
  next_delivery_id: number;
  deliveries: { by_id(id: number): { link: unknown } | undefined };
}

/** A client receive link: the broker's sender. */
class Consumer implements SessionHolder {
  readonly deliveries = new Map<Delivery, PendingDelivery>();
  closed = false;
  /** The receiver asked for a drain that is not answered yet. */
  drainAsked = false;

  constructor(
    readonly link: Sender,
    readonly entity: Entity,
    readonly peekLock: boolean,
    readonly session: MessageSession | undefined,
    readonly conn: ConnectionState,
    private readonly onLost: (consumer: Consumer, error: BrokerError) => void,
  ) {}

  get name(): string {
    return this.link.name;
  }

  /**
   * Whether the receiver's credit allows one more transfer. rhea's `sendable()` looks at `link.credit`, which it
   * lowers only when its next tick writes the transfer out, so within one delivery pass it stays true and a receiver
   * that granted 4 credits would be handed (and lock) every available message. The link's transfers still waiting
   * in the session's outgoing queue are taken off the credit here. AMQP 1.0 flow control: a sender transfers no more
   * than the link credit (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-protocol-guide#transfers).
   */
  hasCredit(): boolean {
    if (!this.link.sendable()) return false;
    const link = this.link as unknown as { credit: number; session: { outgoing: RheaOutgoing } };
    const out = link.session.outgoing;
    let unwritten = 0;
    for (let id = out.next_pending_delivery; id < out.next_delivery_id; id += 1) if (out.deliveries.by_id(id)?.link === this.link) unwritten += 1;
    return link.credit - unwritten > 0;
  }

  sessionLost(error: BrokerError): void {
    this.onLost(this, error);
  }
}

interface PendingAccept {
  /** Set once the attach was answered (session found, timed out, or the client gave up). */
  settled: boolean;
  readonly link: Sender;
  readonly entity: Entity;
  readonly peekLock: boolean;
  readonly conn: ConnectionState;
  readonly timer: ReturnType<TimerQueue['schedule']>;
}

export interface BrokerOptions {
  entities: Map<string, Entity>;
  timers: TimerQueue;
  keyName: string;
  key: string;
  faults: FaultOptions;
  random: () => number;
  events: EventEmitter;
  host: string;
}

/** Serves the entities over AMQP 1.0. */
export class Broker {
  private readonly container = rhea.create_container({
    id: 'servicebus-simulator',
    // Settlement outcomes are applied by hand: modified must not be folded into released, and sends are
    // accepted only once stored.
    sender_options: { treat_modified_as_released: false },
    receiver_options: { autoaccept: false, credit_window: 500 },
  });
  private server: Server | undefined;
  private readonly connections = new Map<Connection, ConnectionState>();
  private readonly consumersByEntity = new Map<Entity, Set<Consumer>>();
  private readonly acceptsByEntity = new Map<Entity, Set<PendingAccept>>();
  private readonly linkKinds = new WeakMap<object, { kind: LinkKind; entity?: Entity; consumer?: Consumer; accept?: PendingAccept }>();
  private readonly pumpQueue = new Set<Entity>();
  private pumpScheduled = false;
  private drops = 0;
  private port = 0;

  constructor(private readonly options: BrokerOptions) {
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => this.onConnectionOpen(ctx));
    c.on('disconnected', (ctx: EventContext) => this.onConnectionGone(ctx.connection));
    c.on('connection_close', (ctx: EventContext) => this.onConnectionGone(ctx.connection));
    c.on('sender_open', (ctx: EventContext) => this.guard(ctx, () => this.onSenderOpen(ctx)));
    c.on('receiver_open', (ctx: EventContext) => this.guard(ctx, () => this.onReceiverOpen(ctx)));
    c.on('message', (ctx: EventContext) => this.guard(ctx, () => this.onMessage(ctx)));
    c.on('sendable', (ctx: EventContext) => this.onCredit(ctx));
    c.on('sender_flow', (ctx: EventContext) => this.onCredit(ctx));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified']) {
      c.on(outcome, (ctx: EventContext) => this.guard(ctx, () => this.onOutcome(ctx)));
    }
    c.on('sender_close', (ctx: EventContext) => this.onSenderClose(ctx));
    // Errors on links and connections are the client's business; without listeners rhea would throw them.
    for (const event of ['error', 'sender_error', 'receiver_error', 'session_error', 'connection_error', 'protocol_error']) {
      c.on(event, () => undefined);
    }
  }

  /** Listens on host:port (0 = ephemeral) and returns the port. */
  async listen(port: number): Promise<number> {
    const server = this.container.listen({
      port,
      host: this.options.host,
      // rhea frees an outgoing delivery only when it and all before it are settled, so a message held under lock
      // holds up the deliveries behind it; 2048 (rhea's default) is too few for a busy receiver.
      session_buffer_size: { outgoing: 65_536, incoming: 2048 },
      // Settlements and replies are small frames; Nagle's algorithm would hold them back behind unacknowledged data.
      tcp_no_delay: true,
    } as Parameters<typeof this.container.listen>[0]);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this.port;
  }

  /** Drops every client connection (the SDK reconnects on its next operation). */
  dropConnections(): number {
    let n = 0;
    for (const state of [...this.connections.values()]) {
      state.socket?.destroy();
      this.onConnectionGone(state.connection);
      n++;
    }
    return n;
  }

  connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    this.dropConnections();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- connections ----

  private onConnectionOpen(ctx: EventContext): void {
    const connection = ctx.connection;
    if (this.connections.has(connection)) return;
    this.connections.set(connection, {
      connection,
      socket: (connection as unknown as { socket?: Socket }).socket,
      replyLinks: new Map(),
      claims: new Map(),
      consumers: new Set(),
      pendingAccepts: new Set(),
    });
  }

  private onConnectionGone(connection: Connection): void {
    const state = this.connections.get(connection);
    if (!state) return;
    this.connections.delete(connection);
    for (const consumer of state.consumers) this.removeConsumer(consumer);
    for (const accept of state.pendingAccepts) this.removeAccept(accept);
  }

  private stateOf(connection: Connection): ConnectionState {
    let state = this.connections.get(connection);
    if (!state) {
      // Links can attach before connection_open reaches us when frames arrive together.
      this.onConnectionOpen({ connection } as EventContext);
      state = this.connections.get(connection)!;
    }
    return state;
  }

  /** Runs a handler; a BrokerError or bug closes the link with an AMQP error instead of crashing the broker. */
  private guard(ctx: EventContext, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const error = err instanceof BrokerError ? err : new BrokerError('amqp:internal-error', `Simulator error: ${(err as Error).message}`);
      const link = ctx.sender ?? ctx.receiver;
      if (!link) return;
      // The attach reply is on its way (rhea answers attaches itself); the detach carries the error after it.
      link.close({ condition: error.condition, description: error.message });
    }
  }

  // ---- link attach ----

  private resolveEntity(address: string | undefined): { entity: Entity; management: boolean } | 'cbs' | undefined {
    if (!address) return undefined;
    let path = address.replace(/^(amqps?|sb):\/\/[^/]+\//i, '');
    if (path === '$cbs') return 'cbs';
    let management = false;
    if (/\/\$management$/i.test(path)) {
      management = true;
      path = path.replace(/\/\$management$/i, '');
    }
    const entity = this.options.entities.get(path.toLowerCase());
    return entity ? { entity, management } : undefined;
  }

  private notFound(address: string | undefined): BrokerError {
    // The description is what core-amqp's translate() recognises as MessagingEntityNotFound.
    return new BrokerError(
      'amqp:not-found',
      `The messaging entity 'sb://${this.options.host}:${this.port}/${address ?? ''}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.`,
    );
  }

  /** The SDK puts a token for each link's audience before attaching it; a link without one is refused. */
  private requireClaim(conn: ConnectionState, entity: Entity, management: boolean): void {
    const path = `${entity.name}${management ? '/$management' : ''}`.toLowerCase();
    const now = Date.now();
    for (const [claim, expiresAt] of conn.claims) {
      if (expiresAt > now && (claim === '' || path === claim || path.startsWith(`${claim}/`))) return;
    }
    throw new BrokerError('amqp:unauthorized-access', `Unauthorized access. No valid token was put on $cbs for '${path}'.`);
  }

  /** The client attached a receiver: we send on this link. */
  private onSenderOpen(ctx: EventContext): void {
    const link = ctx.sender!;
    const conn = this.stateOf(ctx.connection);
    const remoteSource = link.source as RemoteTerminus | undefined;
    const remoteTarget = link.target as RemoteTerminus | undefined;
    const local = link as unknown as { local: { attach: Record<string, unknown> }; snd_settle_mode: number; rcv_settle_mode: number };
    local.local.attach.snd_settle_mode = link.snd_settle_mode;
    local.local.attach.rcv_settle_mode = link.rcv_settle_mode;
    if (remoteTarget?.address) link.set_target({ address: remoteTarget.address });
    const resolved = this.resolveEntity(remoteSource?.address);
    if (resolved === 'cbs' || resolved?.management) {
      // A reply link: responses go to the link whose target address (or name) is the request's reply_to.
      link.set_source({ address: remoteSource!.address! });
      this.linkKinds.set(link, { kind: resolved === 'cbs' ? 'cbs' : 'management' });
      if (remoteTarget?.address) conn.replyLinks.set(remoteTarget.address, link);
      conn.replyLinks.set(link.name, link);
      return;
    }
    if (!resolved) throw this.notFound(remoteSource?.address);
    const { entity } = resolved;
    this.requireClaim(conn, entity, false);
    const peekLock = link.snd_settle_mode !== 1;
    const filter = remoteSource?.filter;
    const wantsSession = filter !== undefined && sessionFilter in filter;
    if (entity.config.requiresSession && !wantsSession) {
      throw new BrokerError(
        'amqp:not-allowed',
        `It is not possible for an entity that requires sessions to create a non-sessionful message receiver. Entity: ${entity.name}`,
      );
    }
    if (!entity.config.requiresSession && wantsSession) {
      throw new BrokerError('amqp:not-allowed', `It is not possible for an entity that does not require sessions to create a session receiver. Entity: ${entity.name}`);
    }
    if (!wantsSession) {
      link.set_source({ address: remoteSource!.address! });
      this.addConsumer(new Consumer(link, entity, peekLock, undefined, conn, (c, e) => this.onSessionLost(c, e)));
      return;
    }
    const requested = filter[sessionFilter];
    if (typeof requested === 'string') {
      const session = entity.acquireSession(requested, { name: link.name, sessionLost: (e) => this.lostBeforeAttach(link, e) });
      this.attachSession(link, entity, peekLock, conn, session!);
      return;
    }
    const session = entity.acquireSession(undefined, { name: link.name, sessionLost: (e) => this.lostBeforeAttach(link, e) });
    if (session) {
      this.attachSession(link, entity, peekLock, conn, session);
      return;
    }
    // acceptNextSession: hold the attach until a session has messages or the client's server timeout passes.
    deferAttach(link);
    const properties = link.properties as Record<string, unknown> | undefined;
    const timeout = typeof properties?.['com.microsoft:timeout'] === 'number' ? properties['com.microsoft:timeout'] : defaultAcceptTimeoutMs;
    const accept: PendingAccept = {
      settled: false,
      link,
      entity,
      peekLock,
      conn,
      timer: this.options.timers.schedule(Date.now() + timeout, () => {
        this.removeAccept(accept);
        completeAttach(link);
        link.close({
          condition: 'com.microsoft:timeout',
          description: `The operation did not complete within the allocated time ${timeout}ms for object session.`,
        });
      }),
    };
    this.linkKinds.set(link, { kind: 'entity', entity, accept });
    conn.pendingAccepts.add(accept);
    let set = this.acceptsByEntity.get(entity);
    if (!set) this.acceptsByEntity.set(entity, (set = new Set()));
    set.add(accept);
    this.options.events.emit('sessionAcceptWaiting', { queue: entity.config.queue, timeoutMs: timeout });
  }

  private lostBeforeAttach(link: Sender, error: BrokerError): void {
    const info = this.linkKinds.get(link);
    if (info?.consumer) this.onSessionLost(info.consumer, error);
  }

  private attachSession(link: Sender, entity: Entity, peekLock: boolean, conn: ConnectionState, session: MessageSession): void {
    const remoteSource = link.source as RemoteTerminus | undefined;
    link.set_source({ address: remoteSource?.address ?? entity.name, filter: { [sessionFilter]: session.id } });
    const local = link as unknown as { local: { attach: Record<string, unknown> } };
    local.local.attach.properties = { 'com.microsoft:locked-until-utc': ticksLong(session.lockedUntil) };
    const consumer = new Consumer(link, entity, peekLock, session, conn, (c, e) => this.onSessionLost(c, e));
    // The session's holder is the consumer from now on (acquireSession was given a stand-in).
    session.holder = consumer;
    this.addConsumer(consumer);
  }

  /** The client attached a sender: we receive on this link. */
  private onReceiverOpen(ctx: EventContext): void {
    const link = ctx.receiver!;
    const conn = this.stateOf(ctx.connection);
    const remoteTarget = link.target as RemoteTerminus | undefined;
    const remoteSource = link.source as RemoteTerminus | undefined;
    const local = link as unknown as { local: { attach: Record<string, unknown> } };
    local.local.attach.max_message_size = maxMessageSize;
    if (remoteSource?.address) link.set_source({ address: remoteSource.address });
    if (remoteTarget?.address) link.set_target({ address: remoteTarget.address });
    const resolved = this.resolveEntity(remoteTarget?.address);
    if (resolved === 'cbs') {
      this.linkKinds.set(link, { kind: 'cbs' });
      return;
    }
    if (!resolved) throw this.notFound(remoteTarget?.address);
    if (resolved.management) {
      this.requireClaim(conn, resolved.entity, true);
      this.linkKinds.set(link, { kind: 'management', entity: resolved.entity });
      return;
    }
    this.requireClaim(conn, resolved.entity, false);
    if (resolved.entity.config.subQueue) {
      throw new BrokerError('amqp:not-allowed', `Messages cannot be sent to the dead-letter queue '${resolved.entity.name}'.`);
    }
    this.linkKinds.set(link, { kind: 'entity', entity: resolved.entity });
  }

  // ---- incoming messages: sends, $cbs and $management requests ----

  private onMessage(ctx: EventContext): void {
    const link = ctx.receiver!;
    const delivery = ctx.delivery!;
    const info = this.linkKinds.get(link);
    const conn = this.stateOf(ctx.connection);
    if (!info) {
      delivery.reject({ condition: 'amqp:not-found', description: 'The link is not attached to an entity.' });
      return;
    }
    if (info.kind === 'cbs') {
      delivery.accept();
      this.onPutToken(conn, ctx.message as AmqpMessage);
      return;
    }
    if (info.kind === 'management') {
      delivery.accept();
      this.onManagementRequest(conn, info.entity!, ctx.message as AmqpMessage);
      return;
    }
    if (this.maybeDrop(conn)) return;
    const entity = info.entity!;
    try {
      const messages = unpackTransfer(ctx.message, (ctx as { format?: number }).format);
      entity.enqueue(messages);
      delivery.accept();
    } catch (err) {
      const error = err instanceof BrokerError ? err : new BrokerError('amqp:decode-error', (err as Error).message);
      delivery.reject({ condition: error.condition, description: error.message });
    }
  }

  private onPutToken(conn: ConnectionState, request: AmqpMessage): void {
    const props = request.application_properties ?? {};
    let status = 202;
    let description = 'Accepted';
    if (props.operation !== 'put-token') {
      status = 400;
      description = `Unsupported $cbs operation '${String(props.operation)}'.`;
    } else {
      const check = verifySasToken(request.body, this.options.keyName, this.options.key);
      if (check.ok) conn.claims.set(check.audiencePath, check.expiresAt);
      else {
        status = 401;
        description = check.reason;
      }
    }
    this.reply(conn, request, { 'status-code': status, 'status-description': description }, undefined);
  }

  private onManagementRequest(conn: ConnectionState, entity: Entity, request: AmqpMessage): void {
    const props = request.application_properties ?? {};
    const associated = props['associated-link-name'];
    const reply = handleManagement(props.operation, request.body, {
      entity,
      associatedLinkName: typeof associated === 'string' ? associated : undefined,
      encode: (e, seq, lockedUntil) => this.encodeStored(e, seq, lockedUntil),
    });
    const replyProps: Record<string, unknown> = { statusCode: reply.statusCode };
    if (reply.statusDescription) replyProps.statusDescription = reply.statusDescription;
    if (reply.errorCondition) replyProps.errorCondition = reply.errorCondition;
    this.reply(conn, request, replyProps, reply.body);
    // A renewed, settled or received-deferred message may free credit or a session.
    this.schedulePump(entity);
  }

  private reply(conn: ConnectionState, request: AmqpMessage, applicationProperties: Record<string, unknown>, body: unknown): void {
    const replyTo = request.reply_to;
    const link = replyTo === undefined ? undefined : conn.replyLinks.get(replyTo);
    if (!link || !link.is_open()) return; // nobody listens for the answer; the client times out as with Service Bus
    link.send({ correlation_id: request.message_id, application_properties: applicationProperties, body });
  }

  // ---- deliveries ----

  private addConsumer(consumer: Consumer): void {
    this.linkKinds.set(consumer.link, { kind: 'entity', entity: consumer.entity, consumer });
    consumer.conn.consumers.add(consumer);
    let set = this.consumersByEntity.get(consumer.entity);
    if (!set) this.consumersByEntity.set(consumer.entity, (set = new Set()));
    set.add(consumer);
  }

  private removeConsumer(consumer: Consumer): void {
    if (consumer.closed) return;
    consumer.closed = true;
    consumer.conn.consumers.delete(consumer);
    this.consumersByEntity.get(consumer.entity)?.delete(consumer);
    consumer.deliveries.clear();
    // Non-session message locks outlive the link (settlement falls back to $management); a session lock does not.
    if (consumer.session && consumer.session.holder === consumer) consumer.entity.releaseSession(consumer.session);
  }

  private removeAccept(accept: PendingAccept): void {
    accept.settled = true;
    this.options.timers.cancel(accept.timer);
    accept.conn.pendingAccepts.delete(accept);
    this.acceptsByEntity.get(accept.entity)?.delete(accept);
  }

  private onSessionLost(consumer: Consumer, error: BrokerError): void {
    this.removeConsumer(consumer);
    this.options.events.emit('sessionLockExpired', { queue: consumer.entity.config.queue, sessionId: consumer.session?.id });
    if (consumer.link.is_open()) consumer.link.close({ condition: error.condition, description: error.message });
  }

  private onSenderClose(ctx: EventContext): void {
    const info = this.linkKinds.get(ctx.sender!);
    if (info?.consumer) {
      this.removeConsumer(info.consumer);
      this.schedulePump(info.consumer.entity);
    }
    if (info?.accept && !info.accept.settled) {
      this.removeAccept(info.accept);
      // The client gave up before we attached: attach, then detach. (Re-opening clears the marker rhea's own
      // deferred close checks, so the detach has to be asked for here.)
      completeAttach(ctx.sender!);
      ctx.sender!.close();
    }
  }

  private onCredit(ctx: EventContext): void {
    const sender = ctx.sender;
    if (!sender) return;
    const info = this.linkKinds.get(sender);
    if (!info?.consumer) return;
    // A flow with drain set (the SDK's receiveMessages at the end of its wait) is answered by the next pass.
    if ((sender as unknown as RheaSenderFlow)._draining) info.consumer.drainAsked = true;
    this.schedulePump(info.consumer.entity);
  }

  schedulePump(entity: Entity): void {
    this.pumpQueue.add(entity);
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // One pass per event-loop turn: a batch of 100 sends or a burst of credit becomes one delivery pass.
    setImmediate(() => {
      this.pumpScheduled = false;
      const entities = [...this.pumpQueue];
      this.pumpQueue.clear();
      for (const e of entities) this.pump(e);
    });
  }

  private pump(entity: Entity): void {
    const accepts = this.acceptsByEntity.get(entity);
    if (accepts) {
      for (const accept of accepts) {
        if (!entity.hasReadySession()) break;
        const session = entity.acquireSession(undefined, { name: accept.link.name, sessionLost: (e) => this.lostBeforeAttach(accept.link, e) });
        if (!session) break;
        this.removeAccept(accept);
        this.attachSession(accept.link, entity, accept.peekLock, accept.conn, session);
        completeAttach(accept.link);
      }
    }
    const consumers = this.consumersByEntity.get(entity);
    if (!consumers || consumers.size === 0) return;
    // Round-robin one message at a time so competing receivers share the queue.
    let delivered = true;
    while (delivered) {
      delivered = false;
      for (const consumer of consumers) {
        if (consumer.closed || !consumer.hasCredit()) continue;
        const message = entity.take(consumer.session);
        if (!message) continue;
        this.deliver(consumer, message.seq);
        delivered = true;
      }
    }
    for (const consumer of consumers) {
      if (!consumer.drainAsked || consumer.closed) continue;
      consumer.drainAsked = false;
      answerDrain(consumer.link);
    }
  }

  private deliver(consumer: Consumer, seq: number): void {
    const { entity } = consumer;
    const message = entity.messages.get(seq)!;
    if (consumer.peekLock) {
      const lockToken = entity.lock(message, consumer.session);
      const bytes = this.encodeStored(entity, seq, message.lock!.until);
      const delivery = consumer.link.send(bytes, lockTokenToDeliveryTag(lockToken), 0);
      consumer.deliveries.set(delivery, { seq, lockToken });
    } else {
      const bytes = this.encodeStored(entity, seq, undefined);
      entity.deliverAndDelete(message);
      consumer.link.send(bytes, lockTokenToDeliveryTag(newLockToken()), 0);
    }
  }

  private encodeStored(entity: Entity, seq: number, lockedUntil: number | undefined): Buffer {
    const message = entity.messages.get(seq)!;
    const annotations: Record<string, unknown> = { ...message.source.message_annotations };
    annotations['x-opt-sequence-number'] = amqpLong(message.seq);
    annotations['x-opt-enqueue-sequence-number'] = amqpLong(message.seq);
    annotations['x-opt-enqueued-time'] = amqpTimestamp(message.enqueuedAt);
    if (lockedUntil !== undefined) annotations['x-opt-locked-until'] = amqpTimestamp(lockedUntil);
    const state = message.state === 'scheduled' ? 2 : message.state === 'deferred' || message.lock?.wasDeferred ? 1 : 0;
    annotations['x-opt-message-state'] = amqpInt(state);
    return encodeDelivery(
      {
        durable: message.source.durable,
        priority: message.source.priority,
        // Service Bus reports the effective time to live: the message's, capped by the queue default.
        ttl: effectiveTtl(message.expiresAt, message.enqueuedAt, message.source.ttl),
        deliveryCount: message.deliveryCount,
      },
      annotations,
      message.bare,
    );
  }

  // ---- settlement on the receive link ----

  private onOutcome(ctx: EventContext): void {
    const delivery = ctx.delivery!;
    const info = this.linkKinds.get(ctx.sender ?? delivery.link);
    const consumer = info?.consumer;
    if (!consumer) return;
    const pending = consumer.deliveries.get(delivery);
    if (!pending) {
      // A settlement that crossed our detach of a lost session: answer it rather than leave the client waiting.
      if (consumer.closed && consumer.session && !delivery.remote_settled) {
        settleBack(delivery, outcomes.rejected('com.microsoft:session-lock-lost', `The session lock has expired on the MessageSession '${consumer.session.id}'.`));
      }
      return; // otherwise receive-and-delete, or already handled (abandon fires released and modified)
    }
    consumer.deliveries.delete(delivery);
    if (this.maybeDrop(consumer.conn)) return;
    const { disposition, options } = dispositionOf(delivery.remote_state as Outcome | undefined);
    const apply = () => {
      let state: Typed;
      try {
        consumer.entity.settle(pending.lockToken, disposition, { ...options, sessionId: consumer.session?.id });
        state = disposition === 'complete' ? outcomes.accepted() : outcomeWithoutError(delivery.remote_state as Outcome | undefined);
      } catch (err) {
        const error = err instanceof BrokerError ? err : new BrokerError('amqp:internal-error', (err as Error).message);
        state = outcomes.rejected(error.condition, error.message);
      }
      settleBack(delivery, state);
      this.schedulePump(consumer.entity);
    };
    const delay = this.options.faults.delaySettlement;
    if (delay && this.options.random() < delay.probability) {
      const ms = delay.minMs + this.options.random() * Math.max(0, delay.maxMs - delay.minMs);
      this.options.timers.schedule(Date.now() + ms, apply);
    } else {
      apply();
    }
  }

  /** The seeded connection-drop fault: true if the connection was dropped instead of processing the operation. */
  private maybeDrop(conn: ConnectionState): boolean {
    const fault = this.options.faults.dropConnection;
    if (!fault || this.drops >= (fault.maxDrops ?? Number.MAX_SAFE_INTEGER)) return false;
    if (this.options.random() >= fault.probability) return false;
    this.drops++;
    this.options.events.emit('connectionDropped', { drops: this.drops });
    conn.socket?.destroy();
    this.onConnectionGone(conn.connection);
    return true;
  }
}

function effectiveTtl(expiresAt: number, enqueuedAt: number, senderTtl: number | undefined): number | undefined {
  const ttl = Number.isFinite(expiresAt) ? expiresAt - enqueuedAt : senderTtl;
  // header.ttl is an AMQP uint of milliseconds; longer lives are left unset (the SDK then treats them as unbounded).
  return ttl !== undefined && ttl <= 0xffffffff ? ttl : undefined;
}

interface Outcome {
  constructor: { composite_type?: string };
  error?: { condition?: string; description?: string; info?: Record<string, unknown> };
  undeliverable_here?: boolean;
  message_annotations?: Record<string, unknown>;
}

/** Maps the receiver's outcome to a disposition, as the SDK encodes them (messageSession.settleMessage). */
function dispositionOf(outcome: Outcome | undefined): { disposition: Disposition; options: SettleOptions } {
  const type = outcome?.constructor.composite_type;
  if (type === 'accepted') return { disposition: 'complete', options: {} };
  if (type === 'rejected') {
    const info = { ...outcome?.error?.info };
    const reason = info.DeadLetterReason;
    const description = info.DeadLetterErrorDescription;
    delete info.DeadLetterReason;
    delete info.DeadLetterErrorDescription;
    return {
      disposition: 'deadLetter',
      options: {
        deadLetterReason: typeof reason === 'string' ? reason : undefined,
        deadLetterDescription: typeof description === 'string' ? description : undefined,
        propertiesToModify: info,
      },
    };
  }
  if (type === 'modified') {
    return {
      disposition: outcome?.undeliverable_here ? 'defer' : 'abandon',
      options: { propertiesToModify: outcome?.message_annotations },
    };
  }
  return { disposition: 'abandon', options: {} };
}

/** Settles back with the client's own outcome minus any error, which the SDK would read as a failure. */
function outcomeWithoutError(outcome: Outcome | undefined): Typed {
  const type = outcome?.constructor.composite_type;
  const message = rhea.message as unknown as Record<string, (fields?: object) => { described(): Typed }>;
  if (type === 'rejected') return message.rejected!({}).described();
  if (type === 'modified') return message.modified!({ undeliverable_here: outcome?.undeliverable_here ?? false }).described();
  if (type === 'released') return message.released!().described();
  return outcomes.accepted();
}

/**
 * Settles a delivery the client settled "second" (rcv-settle-mode 1): our settlement is the last word, the client
 * sends nothing more. rhea only frees an outgoing delivery once both ends are settled, so it is marked remotely
 * settled here; otherwise the session's delivery buffer fills up and the link stops sending.
 */
function settleBack(delivery: Delivery, state: Typed): void {
  delivery.update(true, state);
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

/**
 * rhea answers an attach as soon as it arrives (link.on_attach opens the local end, and the attach frame goes out
 * on the next tick). acceptNextSession must wait for a session instead, so the local open is taken back here and
 * redone by completeAttach.
 */
function deferAttach(link: Sender): void {
  const state = (link as unknown as { state: { local_open: boolean; open_requests: number } }).state;
  state.local_open = false;
  state.open_requests = Math.max(0, state.open_requests - 1);
}

/** The part of rhea's sender (lib/link.js) that writes a flow: its credit, delivery count and drain flag. */
interface RheaSenderFlow {
  _draining: boolean;
  credit: number;
  delivery_count: number;
  issue_flow: boolean;
  _get_drain(): boolean;
}

/**
 * Answers a drain request with a flow that has drain set, after the transfers this pass queued. AMQP 1.0, 2.6.7
 * Flow Control: with drain set, the sender sends what it has, advances the delivery-count to use up any credit left,
 * and sends its flow state to the receiver
 * (http://docs.oasis-open.org/amqp/core/v1.0/os/amqp-core-transport-v1.0-os.html#doc-flow-control). rhea's sender
 * sends that flow only while credit is left, so a drain whose credit went to a message that arrived just then went
 * unanswered; the SDK waits 200 ms for the answer, then closes the receive link and hands the message to the caller
 * on the closed link, where its settlement fails (SessionLockLost on a session) and it is delivered again. rhea
 * writes a session's transfers before its links' flows, so the credit seen here is what the transfers left.
 */
function answerDrain(link: Sender): void {
  const sender = link as unknown as RheaSenderFlow;
  sender._get_drain = function (this: RheaSenderFlow): boolean {
    delete (this as Partial<RheaSenderFlow>)._get_drain; // one answer per request: back to rhea's own
    this.delivery_count += this.credit;
    this.credit = 0;
    return true;
  };
  sender.issue_flow = true;
  (link.connection as unknown as { _register(): void })._register();
}

function completeAttach(link: Sender | Receiver): void {
  link.open();
}
