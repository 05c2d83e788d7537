// One message store: a queue or its dead-letter sub-queue. It holds the state machine Service Bus documents
// (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement,
// .../message-deferral, .../message-sessions, .../message-expiration, .../duplicate-detection,
// .../service-bus-dead-letter-queues) and knows nothing of AMQP links: the broker asks it for the next message,
// and it reports availability and lost session locks through callbacks.
import type { AmqpMessage } from './codec.js';
import { BrokerError, encodeBareMessage, newLockToken } from './codec.js';
import { MinHeap } from './heap.js';
import type { TimerHandle, TimerQueue } from './timers.js';

export type MessageState = 'scheduled' | 'available' | 'locked' | 'deferred' | 'removed';

interface Lock {
  readonly token: string;
  until: number;
  timer: TimerHandle | undefined;
  /** Set for messages received through a session: they are locked by the session lock. */
  readonly session: MessageSession | undefined;
  /** A deferred message received by sequence number returns to the deferred state when its lock ends. */
  readonly wasDeferred: boolean;
}

export interface StoredMessage {
  readonly seq: number;
  readonly messageId: string;
  readonly sessionId: string | undefined;
  /** Position in FIFO order, taken when the message first becomes available (scheduled ones at activation). */
  order: number;
  state: MessageState;
  source: AmqpMessage;
  /** Encoded properties, application properties and body (codec.encodeBareMessage). */
  bare: Buffer;
  enqueuedAt: number;
  expiresAt: number;
  scheduledAt: number | undefined;
  deliveryCount: number;
  lock: Lock | undefined;
  timer: TimerHandle | undefined;
}

/** Who holds a session lock: the broker's link; told when the lock is lost. */
export interface SessionHolder {
  readonly name: string;
  sessionLost(error: BrokerError): void;
}

export interface MessageSession {
  readonly id: string;
  readonly available: MinHeap<StoredMessage>;
  availableCount: number;
  holder: SessionHolder | undefined;
  lockedUntil: number;
  lockTimer: TimerHandle | undefined;
  state: Buffer | undefined;
  readonly lockedMessages: Set<StoredMessage>;
}

export interface EntityCounts {
  /** Messages that can be received (as Service Bus counts active messages, this includes locked ones). */
  active: number;
  /** Active messages currently locked by a receiver. */
  locked: number;
  scheduled: number;
  deferred: number;
}

export type Disposition = 'complete' | 'abandon' | 'deadLetter' | 'defer';

export interface SettleOptions {
  deadLetterReason?: string | undefined;
  deadLetterDescription?: string | undefined;
  propertiesToModify?: Record<string, unknown> | undefined;
  /** The session the caller holds, if settling through a session receiver or with a session-id. */
  sessionId?: string | undefined;
}

export interface EntityEvent {
  queue: string;
  subQueue: 'deadLetter' | undefined;
  sequenceNumber: number;
  messageId: string;
  sessionId: string | undefined;
  deliveryCount: number;
  lockToken?: string;
  reason?: string;
  description?: string;
}

export type EntityEventName =
  | 'enqueued'
  | 'scheduled'
  | 'scheduledActivated'
  | 'scheduleCancelled'
  | 'duplicateDropped'
  | 'delivered'
  | 'completed'
  | 'abandoned'
  | 'deferred'
  | 'deadLettered'
  | 'lockExpired'
  | 'lockRenewed'
  | 'expired';

export interface EntityConfig {
  queue: string;
  subQueue: 'deadLetter' | undefined;
  requiresSession: boolean;
  maxDeliveryCount: number;
  lockDurationMs: number;
  duplicateWindowMs: number | undefined;
  defaultTtlMs: number | undefined;
  deadLetteringOnMessageExpiration: boolean;
}

export interface EntityHooks {
  timers: TimerQueue;
  emit(event: EntityEventName, payload: EntityEvent): void;
  /** Called when messages may have become available (the broker schedules a delivery pass). */
  available(entity: Entity): void;
  /** Where dead-lettered messages go (undefined for the dead-letter queue itself). */
  deadLetterQueue: Entity | undefined;
  /** Shared by a queue and its dead-letter queue: Service Bus sequence numbers are unique per entity. */
  nextSequenceNumber(): number;
}

const byOrder = (a: StoredMessage, b: StoredMessage) => a.order < b.order;

/** A queue or dead-letter queue. */
export class Entity {
  readonly messages = new Map<number, StoredMessage>();
  readonly sessions = new Map<string, MessageSession>();
  private readonly available = new MinHeap<StoredMessage>(byOrder);
  private readonly locks = new Map<string, StoredMessage>();
  private readonly duplicates = new Map<string, number>();
  /** Sessions with available messages and no holder, in the order they became ready. */
  private readonly readySessions = new Set<string>();
  private readonly counts = { available: 0, locked: 0, scheduled: 0, deferred: 0 };
  private nextOrder = 1;

  constructor(
    readonly config: EntityConfig,
    private readonly hooks: EntityHooks,
  ) {}

  get name(): string {
    return this.config.subQueue ? `${this.config.queue}/$deadletterqueue` : this.config.queue;
  }

  getCounts(): EntityCounts {
    const { available, locked, scheduled, deferred } = this.counts;
    return { active: available + locked, locked, scheduled, deferred };
  }

  /** Accepts sent messages (single or batch), applying duplicate detection; returns the stored ones. */
  enqueue(sources: AmqpMessage[], now = Date.now()): StoredMessage[] {
    for (const source of sources) this.validateForSend(source);
    const stored: StoredMessage[] = [];
    for (const source of sources) {
      const message = this.admit(source, now);
      if (!message) continue;
      stored.push(message);
      const scheduledAt = scheduledTime(source);
      if (scheduledAt !== undefined && scheduledAt > now) this.scheduleAt(message, scheduledAt);
      else this.activate(message, now, 'enqueued');
    }
    return stored;
  }

  /** com.microsoft:schedule-message: stores messages as scheduled and returns their sequence numbers. */
  schedule(sources: AmqpMessage[], now = Date.now()): number[] {
    for (const source of sources) this.validateForSend(source);
    const seqs: number[] = [];
    for (const source of sources) {
      const message = this.admit(source, now);
      // A duplicate is dropped, as on send; Service Bus still answers with a sequence number.
      if (!message) {
        seqs.push(this.hooks.nextSequenceNumber());
        continue;
      }
      const at = scheduledTime(source) ?? now;
      if (at > now) this.scheduleAt(message, at);
      else this.activate(message, now, 'enqueued');
      seqs.push(message.seq);
    }
    return seqs;
  }

  /** com.microsoft:cancel-scheduled-message; sequence numbers that are not scheduled are ignored. */
  cancelScheduled(seqs: number[]): void {
    for (const seq of seqs) {
      const message = this.messages.get(seq);
      if (!message || message.state !== 'scheduled') continue;
      this.hooks.timers.cancel(message.timer);
      this.remove(message);
      this.emit('scheduleCancelled', message);
    }
  }

  /** The next available message for a non-session receiver, or for the given session. */
  take(session?: MessageSession): StoredMessage | undefined {
    const heap = session ? session.available : this.available;
    for (let m = heap.pop(); m; m = heap.pop()) {
      if (m.state !== 'available') continue;
      if (session) {
        session.availableCount--;
        this.updateReady(session);
      }
      this.hooks.timers.cancel(m.timer);
      m.timer = undefined;
      return m;
    }
    return undefined;
  }

  /** True when a non-session receiver could get a message now. */
  hasAvailable(): boolean {
    return this.counts.available > 0 && !this.config.requiresSession;
  }

  /** Locks a taken message for a peek-lock receiver; returns the lock token. */
  lock(message: StoredMessage, session: MessageSession | undefined, now = Date.now()): string {
    const token = newLockToken();
    const wasDeferred = message.state === 'deferred';
    const until = session ? session.lockedUntil : now + this.config.lockDurationMs;
    const timer = session ? undefined : this.hooks.timers.schedule(until, () => this.lockExpired(message, token));
    message.lock = { token, until, timer, session, wasDeferred };
    this.setState(message, 'locked');
    this.locks.set(token, message);
    session?.lockedMessages.add(message);
    this.emit('delivered', message, { lockToken: token });
    return token;
  }

  /** Removes a taken message for a receive-and-delete receiver. */
  deliverAndDelete(message: StoredMessage): void {
    this.emit('delivered', message);
    this.remove(message);
  }

  /** The message a lock token refers to, if the lock is still held. */
  locked(token: string): StoredMessage | undefined {
    return this.locks.get(token);
  }

  /** Settles a locked message (on the receive link or via $management update-disposition). */
  settle(token: string, disposition: Disposition, options: SettleOptions = {}): void {
    if (options.sessionId !== undefined && this.config.requiresSession && !this.sessions.get(options.sessionId)?.holder) {
      throw sessionLockLost(options.sessionId);
    }
    const message = this.locks.get(token);
    if (!message?.lock) throw lockLost(this.name);
    const lock = message.lock;
    if (disposition === 'deadLetter' && !this.hooks.deadLetterQueue) {
      throw new BrokerError('amqp:not-allowed', `A message in the dead-letter queue '${this.name}' cannot be dead-lettered again.`);
    }
    this.releaseLock(message);
    if (options.propertiesToModify) this.modifyProperties(message, options.propertiesToModify);
    switch (disposition) {
      case 'complete':
        this.remove(message);
        this.emit('completed', message);
        break;
      case 'abandon':
        this.returnFailed(message, lock.wasDeferred, 'abandoned', lock.token);
        break;
      case 'defer':
        this.setState(message, 'deferred');
        this.emit('deferred', message);
        break;
      case 'deadLetter':
        this.deadLetter(message, options.deadLetterReason, options.deadLetterDescription);
        break;
    }
  }

  /** com.microsoft:renew-lock: extends a message lock by the lock duration. */
  renewLock(token: string, now = Date.now()): number {
    const message = this.locks.get(token);
    if (!message?.lock) throw lockLost(this.name);
    if (message.lock.session) {
      throw new BrokerError('amqp:not-allowed', 'The lock of a message received from a session is the session lock; renew the session lock.');
    }
    const lock = message.lock;
    this.hooks.timers.cancel(lock.timer);
    lock.until = now + this.config.lockDurationMs;
    lock.timer = this.hooks.timers.schedule(lock.until, () => this.lockExpired(message, token));
    this.emit('lockRenewed', message, { lockToken: token });
    return lock.until;
  }

  /** com.microsoft:peek-message: active, locked, deferred and scheduled messages from a sequence number on. */
  peek(fromSeq: number, count: number, sessionId: string | undefined): StoredMessage[] {
    const result: StoredMessage[] = [];
    for (const message of this.messages.values()) {
      if (result.length >= count) break;
      if (message.seq < fromSeq || message.state === 'removed') continue;
      if (sessionId !== undefined && message.sessionId !== sessionId) continue;
      result.push(message);
    }
    return result;
  }

  /** com.microsoft:receive-by-sequence-number: deferred messages only (MessageNotFound otherwise). */
  receiveDeferred(seqs: number[], peekLock: boolean, sessionId: string | undefined): Array<{ message: StoredMessage; lockToken?: string }> {
    const messages = seqs.map((seq) => {
      const message = this.messages.get(seq);
      if (!message || message.state !== 'deferred' || (sessionId !== undefined && message.sessionId !== sessionId)) {
        throw new BrokerError(
          'com.microsoft:message-not-found',
          `Failed to lock one or more specified messages. Either the message is locked or it is not deferred (sequence number ${seq}).`,
        );
      }
      return message;
    });
    return messages.map((message) => {
      if (!peekLock) {
        this.deliverAndDelete(message);
        return { message };
      }
      const session = sessionId === undefined ? undefined : this.sessions.get(sessionId);
      const lockToken = this.lock(message, session?.holder ? session : undefined);
      return { message, lockToken };
    });
  }

  // ---- sessions ----

  /** Locks the named session, or the next one with available messages (undefined if none is free). */
  acquireSession(sessionId: string | undefined, holder: SessionHolder, now = Date.now()): MessageSession | undefined {
    let session: MessageSession | undefined;
    if (sessionId === undefined) {
      const next = this.readySessions.values().next();
      if (next.done) return undefined;
      session = this.sessions.get(next.value);
    } else {
      session = this.sessionFor(sessionId);
      if (session.holder) {
        throw new BrokerError(
          'com.microsoft:session-cannot-be-locked',
          `The requested session '${sessionId}' cannot be accepted. It may be locked by another receiver.`,
        );
      }
    }
    if (!session) return undefined;
    const locked = session;
    locked.holder = holder;
    locked.lockedUntil = now + this.config.lockDurationMs;
    locked.lockTimer = this.hooks.timers.schedule(locked.lockedUntil, () => this.sessionLockExpired(locked));
    this.updateReady(locked);
    return locked;
  }

  /** com.microsoft:renew-session-lock. */
  renewSessionLock(sessionId: string, holderName: string | undefined, now = Date.now()): number {
    const session = this.heldSession(sessionId, holderName);
    this.hooks.timers.cancel(session.lockTimer);
    session.lockedUntil = now + this.config.lockDurationMs;
    session.lockTimer = this.hooks.timers.schedule(session.lockedUntil, () => this.sessionLockExpired(session));
    for (const message of session.lockedMessages) if (message.lock) message.lock.until = session.lockedUntil;
    return session.lockedUntil;
  }

  /** com.microsoft:get-session-state. */
  getSessionState(sessionId: string, holderName: string | undefined): Buffer | undefined {
    return this.heldSession(sessionId, holderName).state;
  }

  /** com.microsoft:set-session-state (null clears it). */
  setSessionState(sessionId: string, holderName: string | undefined, state: Buffer | undefined): void {
    this.heldSession(sessionId, holderName).state = state;
  }

  /**
   * Ends a session lock (receiver closed, connection lost, or lock expired). Messages still locked under it
   * become available again with their delivery count raised, as after a lost lock.
   */
  releaseSession(session: MessageSession): void {
    if (!session.holder) return;
    session.holder = undefined;
    this.hooks.timers.cancel(session.lockTimer);
    session.lockTimer = undefined;
    for (const message of [...session.lockedMessages]) {
      const lock = message.lock;
      if (!lock) continue;
      this.releaseLock(message);
      this.returnFailed(message, lock.wasDeferred, 'lockExpired', lock.token);
    }
    this.updateReady(session);
    // A session with nothing in it and no state is forgotten, so ids used once (one per item pair) do not pile up.
    if (session.availableCount === 0 && session.lockedMessages.size === 0 && session.state === undefined) {
      this.sessions.delete(session.id);
    }
    this.hooks.available(this);
  }

  /** Session ids that have messages available and no holder (for acceptNextSession). */
  hasReadySession(): boolean {
    return this.readySessions.size > 0;
  }

  /** Ends every timer-driven activity (simulator close). */
  dispose(): void {
    for (const session of this.sessions.values()) session.holder = undefined;
  }

  // ---- internals ----

  private validateForSend(source: AmqpMessage): void {
    if (this.config.subQueue) {
      throw new BrokerError('amqp:not-allowed', `Messages cannot be sent to the dead-letter queue '${this.name}'.`);
    }
    if (this.config.requiresSession && (source.group_id === undefined || source.group_id === null)) {
      throw new BrokerError(
        'amqp:not-allowed',
        `The SessionId was not set on a message, and it cannot be sent to the entity '${this.name}'. Entities that have session support enabled can only receive messages that have the SessionId set to a valid value.`,
      );
    }
  }

  /** Applies duplicate detection and stores the message (state decided by the caller). */
  private admit(source: AmqpMessage, now: number): StoredMessage | undefined {
    let messageId = source.message_id === undefined || source.message_id === null ? undefined : messageIdString(source.message_id);
    if (messageId === undefined) {
      // Batched messages arrive without message_id (docs/reference/local-tooling.md, probe 6); the SDK needs one on receive.
      messageId = newLockToken().replace(/-/g, '');
      source.message_id = messageId;
    }
    const window = this.config.duplicateWindowMs;
    if (window !== undefined) {
      this.purgeDuplicates(now);
      if (this.duplicates.has(messageId)) {
        this.hooks.emit('duplicateDropped', {
          queue: this.config.queue,
          subQueue: this.config.subQueue,
          sequenceNumber: -1,
          messageId,
          sessionId: source.group_id,
          deliveryCount: 0,
        });
        return undefined;
      }
      this.duplicates.set(messageId, now + window);
    }
    const message: StoredMessage = {
      seq: this.hooks.nextSequenceNumber(),
      messageId,
      sessionId: source.group_id ?? undefined,
      order: 0,
      state: 'removed',
      source,
      bare: encodeBareMessage(source),
      enqueuedAt: now,
      expiresAt: Infinity,
      scheduledAt: undefined,
      deliveryCount: 0,
      lock: undefined,
      timer: undefined,
    };
    this.messages.set(message.seq, message);
    return message;
  }

  private purgeDuplicates(now: number): void {
    // Insertion order is expiry order (one window for the entity), so expired ids are at the front.
    for (const [id, expiresAt] of this.duplicates) {
      if (expiresAt > now) break;
      this.duplicates.delete(id);
    }
  }

  private scheduleAt(message: StoredMessage, at: number): void {
    message.scheduledAt = at;
    this.setState(message, 'scheduled');
    message.timer = this.hooks.timers.schedule(at, () => {
      message.timer = undefined;
      if (message.state !== 'scheduled') return;
      this.activate(message, Date.now(), 'scheduledActivated');
    });
    this.emit('scheduled', message);
  }

  /** The message enters the active queue (sent now, or a scheduled message whose time came). */
  private activate(message: StoredMessage, now: number, event: 'enqueued' | 'scheduledActivated'): void {
    message.enqueuedAt = now;
    const ttl = Math.min(message.source.ttl ?? Infinity, this.config.defaultTtlMs ?? Infinity);
    message.expiresAt = now + ttl;
    message.order = this.nextOrder++;
    if (event === 'scheduledActivated') this.emit('scheduledActivated', message);
    this.emit('enqueued', message);
    this.makeAvailable(message, now);
  }

  private makeAvailable(message: StoredMessage, now = Date.now()): void {
    if (message.expiresAt <= now) {
      this.expire(message);
      return;
    }
    this.setState(message, 'available');
    if (Number.isFinite(message.expiresAt)) {
      message.timer = this.hooks.timers.schedule(message.expiresAt, () => {
        message.timer = undefined;
        if (message.state === 'available') this.expire(message);
      });
    }
    if (message.sessionId !== undefined && this.config.requiresSession) {
      const session = this.sessionFor(message.sessionId);
      session.available.push(message);
      session.availableCount++;
      this.updateReady(session);
    } else {
      this.available.push(message);
    }
    this.hooks.available(this);
  }

  private expire(message: StoredMessage): void {
    this.hooks.timers.cancel(message.timer);
    message.timer = undefined;
    if (message.sessionId !== undefined && message.state === 'available' && this.config.requiresSession) {
      const session = this.sessions.get(message.sessionId);
      if (session) {
        session.availableCount--;
        this.updateReady(session);
      }
    }
    this.emit('expired', message);
    if (this.config.deadLetteringOnMessageExpiration) {
      // Reason and description as Service Bus sets them (service-bus-dead-letter-queues#time-to-live).
      this.deadLetter(message, 'TTLExpiredException', 'The message expired and was dead lettered.');
    } else {
      this.remove(message);
    }
  }

  /** After an abandon or a lost lock: count the failed delivery, then dead-letter or make available again. */
  private returnFailed(message: StoredMessage, wasDeferred: boolean, event: 'abandoned' | 'lockExpired', lockToken: string): void {
    message.deliveryCount++;
    this.emit(event, message, { lockToken });
    if (message.deliveryCount >= this.config.maxDeliveryCount) {
      this.deadLetter(
        message,
        'MaxDeliveryCountExceeded',
        `Message could not be consumed after ${this.config.maxDeliveryCount} delivery attempts.`,
      );
    } else if (wasDeferred) {
      this.setState(message, 'deferred');
    } else {
      this.makeAvailable(message);
    }
  }

  private deadLetter(message: StoredMessage, reason: string | undefined, description: string | undefined): void {
    const dlq = this.hooks.deadLetterQueue;
    this.remove(message);
    // The dead-letter queue has no TTL, no delivery limit and refuses dead-lettering, so dlq is always set here.
    if (!dlq) return;
    const props: Record<string, unknown> = {};
    if (reason !== undefined) props.DeadLetterReason = reason;
    if (description !== undefined) props.DeadLetterErrorDescription = description;
    dlq.acceptDeadLettered(message, props);
    this.emit('deadLettered', message, { reason: reason ?? '', description: description ?? '' });
  }

  /** Receives a message dead-lettered from the main queue; it keeps its sequence number and delivery count. */
  acceptDeadLettered(original: StoredMessage, properties: Record<string, unknown>): void {
    const message: StoredMessage = {
      ...original,
      state: 'removed',
      lock: undefined,
      timer: undefined,
      expiresAt: Infinity,
      order: this.nextOrder++,
    };
    this.modifyProperties(message, properties);
    this.messages.set(message.seq, message);
    this.makeAvailable(message);
  }

  private modifyProperties(message: StoredMessage, properties: Record<string, unknown>): void {
    const entries = Object.entries(properties).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    message.source = { ...message.source, application_properties: { ...message.source.application_properties, ...Object.fromEntries(entries) } };
    message.bare = encodeBareMessage(message.source);
  }

  private lockExpired(message: StoredMessage, token: string): void {
    if (message.lock?.token !== token) return;
    const wasDeferred = message.lock.wasDeferred;
    this.releaseLock(message);
    this.returnFailed(message, wasDeferred, 'lockExpired', token);
  }

  private releaseLock(message: StoredMessage): void {
    const lock = message.lock;
    if (!lock) return;
    this.hooks.timers.cancel(lock.timer);
    this.locks.delete(lock.token);
    lock.session?.lockedMessages.delete(message);
    message.lock = undefined;
  }

  private sessionLockExpired(session: MessageSession): void {
    const holder = session.holder;
    if (!holder) return;
    this.releaseSession(session);
    holder.sessionLost(sessionLockLost(session.id));
  }

  private heldSession(sessionId: string, holderName: string | undefined): MessageSession {
    const session = this.sessions.get(sessionId);
    if (!session?.holder || (holderName !== undefined && session.holder.name !== holderName)) throw sessionLockLost(sessionId);
    return session;
  }

  private sessionFor(sessionId: string): MessageSession {
    let session = this.sessions.get(sessionId);
    if (!session) {
      session = {
        id: sessionId,
        available: new MinHeap<StoredMessage>(byOrder),
        availableCount: 0,
        holder: undefined,
        lockedUntil: 0,
        lockTimer: undefined,
        state: undefined,
        lockedMessages: new Set(),
      };
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  private updateReady(session: MessageSession): void {
    if (session.availableCount > 0 && !session.holder) this.readySessions.add(session.id);
    else this.readySessions.delete(session.id);
  }

  private remove(message: StoredMessage): void {
    this.releaseLock(message);
    this.hooks.timers.cancel(message.timer);
    message.timer = undefined;
    this.setState(message, 'removed');
    this.messages.delete(message.seq);
  }

  private setState(message: StoredMessage, state: MessageState): void {
    const counts = this.counts as Record<string, number>;
    if (message.state !== 'removed') counts[message.state]!--;
    if (state !== 'removed') counts[state]!++;
    message.state = state;
  }

  private emit(event: EntityEventName, message: StoredMessage, extra: Partial<EntityEvent> = {}): void {
    this.hooks.emit(event, {
      queue: this.config.queue,
      subQueue: this.config.subQueue,
      sequenceNumber: message.seq,
      messageId: message.messageId,
      sessionId: message.sessionId,
      deliveryCount: message.deliveryCount,
      ...extra,
    });
  }
}

function scheduledTime(source: AmqpMessage): number | undefined {
  const value = source.message_annotations?.['x-opt-scheduled-enqueue-time'];
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return undefined;
}

function messageIdString(id: string | number | Buffer): string {
  return Buffer.isBuffer(id) ? id.toString('hex') : String(id);
}

function lockLost(entity: string): BrokerError {
  return new BrokerError(
    'com.microsoft:message-lock-lost',
    `The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue. Reference: ${entity}`,
  );
}

function sessionLockLost(sessionId: string): BrokerError {
  return new BrokerError(
    'com.microsoft:session-lock-lost',
    `The session lock has expired on the MessageSession '${sessionId}'. Accept a new MessageSession.`,
  );
}
