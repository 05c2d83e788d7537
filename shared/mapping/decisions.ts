// The rule decisions behind shared/mapping, as prose for administrators. The README section "Mapping rules" is
// generated from this list and the field tables (dev/docs/mapping-tables.ts), so code and documentation change
// together.

/** One documented rule: what server-side sync says (or that it is silent), and what this app does and why. */
export type MappingDecision = {
  kind: 'appointment' | 'task' | 'contact' | 'email' | 'all';
  rule: string;
  decision: string;
  source: string;
};

/** Every rule decision of the mapping, in README order. */
export const mappingDecisions: readonly MappingDecision[] = [
  {
    kind: 'all',
    rule: 'Which Exchange items sync to Dynamics 365',
    decision:
      'Only items with the category "Tracked to Dynamics 365" (compared without regard to case) or items already paired with a record (`isTrackedInExchange`). Items created from Dynamics 365 get that category, so they stay recognisable as tracked.',
    source: 'docs/reference/platform-facts.md section 7; https://learn.microsoft.com/power-platform/admin/sync-logic',
  },
  {
    kind: 'all',
    rule: 'Time zones',
    decision:
      'Dataverse times are UTC. Graph times are written in the mailbox zone under its Windows name (the set every Graph method accepts), or as UTC when the IANA zone has no Windows twin; Windows and IANA names are both read. All-day items and To Do dates are calendar dates in the mailbox zone; Dynamics 365 is assumed to use the same zone for the user.',
    source: 'GDC resources/datetimetimezone.md',
  },
  {
    kind: 'all',
    rule: 'Text and limits',
    decision:
      'Text is compared trimmed, with LF line ends, and empty text counts as no value. Bodies go to Exchange as plain text; HTML bodies from Exchange become plain text. Text longer than a Dataverse column (subject 200, contact notes 2000, ...) is cut to fit instead of failing the write.',
    source: 'PAD reference/entities (MaxLength)',
  },
  {
    kind: 'all',
    rule: 'Creating records and closed activities',
    decision:
      'Whole-item bodies are for creates: they leave out empty values and make the mailbox user the owner. statecode is not valid on create, so the engine creates first and sets the state after (`separateStateChange`). Completed and canceled activities are read-only in Dataverse; Exchange free/busy changes never reopen them, and other Exchange edits of an activity closed in Dynamics 365 (a To Do title changed on a completed task) are not written: the change ends as "unchanged, closed in Dataverse" (no retries, no dead letter), the pair keeps Dataverse\'s values as synced, and the edit is written when the item changes again after the activity is reopened (`test/e2e/closedTaskEdit.test.ts`).',
    source: 'PAD reference/entities (StateCode IsValidForCreate False)',
  },
  {
    kind: 'appointment',
    rule: 'Invitations',
    decision:
      'Graph cannot create or update an event with attendees without Exchange sending meeting requests (there is no sendInvitations flag). So: when the syncing user organizes a future appointment with attendees, the event is created with its attendees and Exchange sends the invitations (mode `meeting`, as server-side sync does from the organizer\'s mailbox). When no invitation may be sent because the start is in the past or there are no attendees, the event is written without attendees, the only invitation-free write; the attendees stay in Dynamics 365 and are not compared for that item (mode `withoutAttendees`). When the syncing user is not the organizer, the user\'s copy comes from the organizer\'s invitation: the engine links to the event with the same iCalUId (globalobjectid) instead of creating one and writes only the personal fields (reminder, free/busy) to it, from Dynamics 365: when the copy is linked, Exchange\'s tentative for an invitation not answered yet gives way to the appointment\'s free/busy, and the user\'s response to the invitation is left alone (mode `attendeeCopy`).',
    source: 'docs/reference/platform-facts.md sections 7 and 8',
  },
  {
    kind: 'appointment',
    rule: 'Free/busy (showAs) and status',
    decision:
      'Completed, Canceled or Free (Open) -> free; Tentative -> tentative; Busy -> busy; Out of Office -> oof. Back from Exchange: free and tentative keep the appointment Open, busy and oof make it Scheduled; workingElsewhere and unknown count as busy; a cancelled meeting (isCancelled) cancels the appointment. A completed or canceled appointment is not reopened: a free/busy change in Exchange is not written to it. Cancelling in Dynamics 365 is not sent to Exchange.',
    source: 'docs/reference/server-side-sync-rules.md; docs/reference/platform-facts.md sections 6 and 7',
  },
  {
    kind: 'appointment',
    rule: 'Reminder',
    decision:
      'Off when the appointment starts more than 7 days before the sync (exactly 7 days keeps it on) or its status is Free (Open); otherwise on, with Exchange\'s default lead time. The reminder is Exchange-only: it is never written back.',
    source: 'docs/reference/server-side-sync-rules.md',
  },
  {
    kind: 'appointment',
    rule: 'Attendees and organizer',
    decision:
      'Required (5) and optional (6) parties with an address become attendees; parties without an address stay in Dynamics 365 only; rooms and equipment (resource attendees) stay in Exchange only. From Exchange, attendees and the organizer come back as parties with `addressused` only, which the engine resolves (systemuser, contact, account, lead). Dataverse replaces the party list as a whole, so a change of the attendees in Exchange is written with the organizer kept from the appointment as it is, and a change of the organizer with its attendees kept. The organizer is never written to Exchange: the mailbox that creates the meeting is its organizer.',
    source: 'docs/reference/platform-facts.md sections 6 and 8',
  },
  {
    kind: 'task',
    rule: 'Which activities become To Do tasks',
    decision:
      'Tasks, phone calls, letters and faxes each become a To Do task in the mailbox (the Outlook tasks API is retired). They are told apart by @odata.type, activitytypecode or the entity set in @odata.context. Tasks created in To Do become Dynamics 365 tasks. Letter and fax status reasons come from the Dataverse table references (letter: 1 Open, 2 Draft / 3 Received, 4 Sent / 5 Canceled; fax: 1 Open / 2 Completed, 3 Sent, 4 Received / 5 Canceled), which docs/reference/platform-facts.md marked unconfirmed.',
    source: 'docs/reference/server-side-sync-rules.md; https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/letter, .../fax',
  },
  {
    kind: 'task',
    rule: 'Status',
    decision:
      'In this order: Completed or Canceled -> completed (the closed state wins over a percentage); actualend set and in the past -> completed whatever the state; Waiting on someone else -> waitingOnOthers and Deferred -> deferred (To Do has both); percentcomplete 0 -> notStarted, 1-99 -> inProgress, 100 -> completed; In Progress -> inProgress; otherwise notStarted. Back from To Do, notStarted sets 0 %, completed sets 100 %, inProgress keeps a percentage between 1 and 99 (else clears it); reopening also clears a past actualend so the task does not complete itself again. Phone calls, letters and faxes only know Open and Completed (Made, Sent, Completed).',
    source: 'docs/reference/server-side-sync-rules.md; docs/reference/platform-facts.md section 6',
  },
  {
    kind: 'task',
    rule: 'Due and completion dates',
    decision:
      'scheduledend -> dueDateTime and actualend -> completedDateTime, as calendar dates in the mailbox zone (To Do keeps dates, not times). Back to Dataverse, a date becomes local midnight in UTC. The completion date syncs only while the task is completed.',
    source: 'docs/reference/server-side-sync-rules.md',
  },
  {
    kind: 'task',
    rule: 'Reminder',
    decision:
      'Set when the due date is more than one day before the sync (exactly one day is not) and the state is Open or Scheduled, with the reminder time set to the sync time so Outlook shows it at once; otherwise off. Exchange-only.',
    source: 'docs/reference/server-side-sync-rules.md',
  },
  {
    kind: 'task',
    rule: 'Deleted tasks',
    decision: 'A task deleted in Dynamics 365 is deleted in Exchange only when its To Do status is not completed (`shouldDeleteTodoTask`).',
    source: 'docs/reference/server-side-sync-rules.md',
  },
  {
    kind: 'contact',
    rule: 'Contact fields',
    decision:
      'Names, e-mail addresses (emailaddress1..3 <-> the first three addresses, empty slots close up), business, home and mobile phone (the first number of each list; further Exchange numbers are kept), address 1 <-> business address and address 2 <-> home address, department, job title, birthday and notes sync both ways. The company is a lookup in Dynamics 365, so its name goes to Exchange only; fullname goes to displayName. Birthdays are written at 12:00 UTC so the date is the same in every zone.',
    source: 'docs/reference/platform-facts.md sections 3 and 7; https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact',
  },
];
