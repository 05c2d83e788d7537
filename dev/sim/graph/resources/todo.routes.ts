// To Do routes: task lists and their delta, tasks and their delta, and a task's linkedResources.
import { selectList } from '../requestOptions.js';
import type { RouteContext, RouteRegistrar } from '../routing.js';
import { json, ok204, type Responses } from './responses.js';
import { taskListSpec, taskSpec, type TaskRecord, type TodoService } from './todo.js';

export function registerTodoRoutes(r: RouteRegistrar, res: Responses, todo: TodoService): void {
  r.add('GET', 'users/{u}/todo/lists', 'tasks', 'read', (ctx) =>
    res.list(ctx, { spec: taskListSpec, kind: 'todoTaskList', collections: [todo.listsKey(ctx.mb)], contextPath: `users('${ctx.userSeg}')/todo/lists`, linkPath: `/users/${ctx.userSeg}/todo/lists` }),
  );
  r.add('POST', 'users/{u}/todo/lists', 'tasks', 'write', (ctx) => res.entity(ctx, taskListSpec, todo.createList(ctx.mb, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/todo/lists`, 201));
  r.add('GET', 'users/{u}/todo/lists/delta', 'tasks', 'read', (ctx) =>
    res.delta(ctx, taskListSpec, '#microsoft.graph.todoTaskList', 'todoTaskList', () => {
      const linkBase = `${res.base}/v1.0/users/${ctx.userSeg}/todo/lists/delta`;
      return { userId: ctx.mb.user.id, collectionKey: todo.listsKey(ctx.mb), linkBase, restartUrl: linkBase };
    }),
  );
  r.add('GET', 'users/{u}/todo/lists/{l}', 'tasks', 'read', (ctx) => res.entity(ctx, taskListSpec, todo.list(ctx.mb, ctx.params.l as string), `users('${ctx.userSeg}')/todo/lists`));
  r.add('PATCH', 'users/{u}/todo/lists/{l}', 'tasks', 'write', (ctx) => res.entity(ctx, taskListSpec, todo.updateList(ctx.mb, ctx.params.l as string, ctx.req.body, ctx.actor), `users('${ctx.userSeg}')/todo/lists`));
  r.add('DELETE', 'users/{u}/todo/lists/{l}', 'tasks', 'write', (ctx) => {
    todo.deleteList(ctx.mb, ctx.params.l as string, ctx.actor);
    return ok204();
  });
  r.add('GET', 'users/{u}/todo/lists/{l}/tasks/delta', 'tasks', 'read', (ctx) => {
    todo.list(ctx.mb, ctx.params.l as string);
    return res.delta(ctx, taskSpec, undefined, 'todoTask', () => {
      const linkBase = `${res.base}/v1.0/users/${ctx.userSeg}/todo/lists/${ctx.params.l ?? ''}/tasks/delta`;
      const select = selectList(ctx.req.query);
      return { userId: ctx.mb.user.id, collectionKey: todo.tasksKey(ctx.mb, ctx.params.l as string), linkBase, restartUrl: linkBase, ...(select ? { select } : {}) };
    });
  });
  r.add('GET', 'users/{u}/todo/lists/{l}/tasks', 'tasks', 'read', (ctx) => {
    todo.list(ctx.mb, ctx.params.l as string);
    return res.list(ctx, {
      spec: taskSpec,
      kind: 'todoTask',
      collections: [todo.tasksKey(ctx.mb, ctx.params.l as string)],
      contextPath: `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`,
      linkPath: `/users/${ctx.userSeg}/todo/lists/${ctx.params.l ?? ''}/tasks`,
    });
  });
  r.add('POST', 'users/{u}/todo/lists/{l}/tasks', 'tasks', 'write', (ctx) => {
    const record = todo.createTask(ctx.mb, ctx.params.l as string, ctx.req.body, ctx.actor);
    const response = res.entity(ctx, taskSpec, record, `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`, 201);
    if (record.data.linkedResources.length > 0) (response.body as Record<string, unknown>).linkedResources = record.data.linkedResources.map((l) => ({ ...l }));
    return response;
  });
  const task = (ctx: RouteContext): TaskRecord => todo.task(ctx.mb, ctx.params.l as string, ctx.params.t as string);
  r.add('GET', 'users/{u}/todo/lists/{l}/tasks/{t}', 'tasks', 'read', (ctx) => res.entity(ctx, taskSpec, task(ctx), `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`));
  r.add('PATCH', 'users/{u}/todo/lists/{l}/tasks/{t}', 'tasks', 'write', (ctx) =>
    res.entity(ctx, taskSpec, todo.updateTask(task(ctx), ctx.req.body, ctx.actor, ctx.req.headers['if-match']), `users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks`),
  );
  r.add('DELETE', 'users/{u}/todo/lists/{l}/tasks/{t}', 'tasks', 'write', (ctx) => {
    todo.deleteTask(task(ctx), ctx.actor, ctx.req.headers['if-match']);
    return ok204();
  });
  r.add('GET', 'users/{u}/todo/lists/{l}/tasks/{t}/linkedResources', 'tasks', 'read', (ctx) =>
    json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users('${ctx.userSeg}')/todo/lists('${ctx.params.l ?? ''}')/tasks('${ctx.params.t ?? ''}')/linkedResources`, value: task(ctx).data.linkedResources.map((l) => ({ ...l })) }),
  );
  r.add('POST', 'users/{u}/todo/lists/{l}/tasks/{t}/linkedResources', 'tasks', 'write', (ctx) => json(201, { ...todo.addLinkedResource(task(ctx), ctx.req.body, ctx.actor) }));
  r.add('DELETE', 'users/{u}/todo/lists/{l}/tasks/{t}/linkedResources/{lr}', 'tasks', 'write', (ctx) => {
    todo.removeLinkedResource(task(ctx), ctx.params.lr as string, ctx.actor);
    return ok204();
  });

}
