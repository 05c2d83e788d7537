// An Azure Monitor workbook with the status page's views (shared/status/page.ts) over the app's telemetry: mailboxes
// with their state and last sync per direction, subscriptions (renewal problems; their expiry is on the page), the
// backlog, dead letters with their reasons, breaker holds and recent decisions, plus sync latency. The page reads the
// tables and the queue as they are now; the workbook reads what the app exported, over the time range picked.
// https://learn.microsoft.com/azure/azure-monitor/visualize/workbooks-automate

@description('Azure region of the workbook.')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to the workbook.')
param tags object

@description('Resource id of the Application Insights component the workbook queries.')
@minLength(1)
@maxLength(1024)
param applicationInsightsId string

@description('Resource id of the Service Bus namespace whose queue metrics the backlog view charts.')
@minLength(1)
@maxLength(1024)
param serviceBusNamespaceId string

@description('Name the workbook shows in the portal.')
@minLength(1)
@maxLength(128)
param displayName string

var timeRange = {
  type: 4
  value: { durationMs: 86400000 }
}

// One log query item of the workbook (type 3), in the Application Insights component.
func logItem(name string, title string, query string, visualization string) object => {
  type: 3
  name: name
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    size: 0
    timeContextFromParameter: 'TimeRange'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: visualization
  }
}

// A mailbox's state is its last sample (a state change, or the attention pass's 1 each minute while it lasts): a 1
// older than 15 minutes is a state left where no sample was recorded (the CLI), as the attention alert reads it.
var mailboxesQuery = '''let states = customMetrics
| where name == "sync.mailbox.attention"
| extend mailboxId = tostring(customDimensions.mailboxId), state = tostring(customDimensions.state)
| summarize arg_max(timestamp, state, value) by mailboxId
| project mailboxId, State = state, NeedsAttention = value > 0 and timestamp > ago(15m), StateSeen = timestamp;
let syncs = traces
| where message == "change applied"
| extend mailboxId = tostring(customDimensions.mailboxId), direction = tostring(customDimensions.direction)
| summarize LastSyncToExchange = maxif(timestamp, direction == "toExchange"), LastSyncToDynamics365 = maxif(timestamp, direction == "toDataverse"), Changes = count() by mailboxId;
states
| join kind=fullouter syncs on mailboxId
| project Mailbox = coalesce(mailboxId, mailboxId1), State, NeedsAttention, LastSyncToExchange, LastSyncToDynamics365, Changes, StateSeen
| order by NeedsAttention desc, Mailbox asc'''

var subscriptionsQuery = '''traces
| where message in ("subscription renewal failed", "subscription recreated", "subscription reauthorized")
| extend mailboxId = tostring(customDimensions.mailboxId), subscriptionId = tostring(customDimensions.subscriptionId), code = tostring(customDimensions.code)
| summarize Last = max(timestamp), Count = count() by Mailbox = mailboxId, Event = message, subscriptionId, code
| order by Last desc'''

var deadLettersQuery = '''requests
| where name == "syncWorker" and tostring(customDimensions.outcome) == "dead-lettered"
| project timestamp, Reason = tostring(customDimensions.reason), ErrorCode = tostring(customDimensions.errorCode), Kind = tostring(customDimensions.kind), Direction = tostring(customDimensions.direction), Mailbox = tostring(customDimensions.mailboxId), CorrelationId = tostring(customDimensions.correlationId), DataverseId = tostring(customDimensions.dataverseId), ExchangeId = tostring(customDimensions.exchangeId), operation_Id
| order by timestamp desc'''

var deadLetterReasonsQuery = '''customMetrics
| where name == "sync.dead_letters"
| summarize DeadLetters = sum(valueSum) by Reason = tostring(customDimensions.reason), Kind = tostring(customDimensions.kind), Direction = tostring(customDimensions.direction)
| order by DeadLetters desc'''

var breakerQuery = '''customMetrics
| where name == "sync.breaker.holds"
| summarize Held = sum(valueSum), Since = min(timestamp), Last = max(timestamp) by Mailbox = tostring(customDimensions.mailboxId), Kind = tostring(customDimensions.kind), Direction = tostring(customDimensions.direction), Trigger = tostring(customDimensions.trigger), Action = tostring(customDimensions.action)
| order by Last desc'''

var decisionsQuery = '''requests
| where name == "syncWorker"
| project timestamp, Outcome = tostring(customDimensions.outcome), Kind = tostring(customDimensions.kind), Direction = tostring(customDimensions.direction), Mailbox = tostring(customDimensions.mailboxId), DataverseId = tostring(customDimensions.dataverseId), ExchangeId = tostring(customDimensions.exchangeId), Reason = tostring(customDimensions.reason), success, operation_Id
| order by timestamp desc
| take 100'''

var latencyQuery = '''traces
| where message == "change applied"
| extend direction = tostring(customDimensions.direction), latencyMs = todouble(customDimensions.latencyMs)
| where isnotnull(latencyMs)
| summarize P50 = percentile(latencyMs, 50), P95 = percentile(latencyMs, 95) by direction, bin(timestamp, 15m)
| render timechart'''

var content = {
  version: 'Notebook/1.0'
  isLocked: false
  fallbackResourceIds: [applicationInsightsId]
  items: [
    {
      type: 1
      name: 'intro'
      content: {
        json: '## Sync status\nThe status page\'s views over the exported telemetry. The page itself (GET /api/status/page, behind the status key) shows the tables and the queue as they are now, with each mailbox\'s reason and each subscription\'s expiry.'
      }
    }
    {
      type: 9
      name: 'parameters'
      content: {
        version: 'KqlParameterItem/1.0'
        parameters: [
          {
            id: '6f1f2a6e-3c1b-4d8e-9a55-2b7c0f8e1a01'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            label: 'Time range'
            type: 4
            isRequired: true
            value: timeRange.value
            typeSettings: {
              selectableValues: [
                { durationMs: 3600000 }
                { durationMs: 14400000 }
                { durationMs: 86400000 }
                { durationMs: 604800000 }
              ]
            }
          }
        ]
      }
    }
    logItem('mailboxes', 'Mailboxes: state and last sync per direction', mailboxesQuery, 'table')
    logItem('subscriptions', 'Subscriptions: renewals that failed, recreations and reauthorizations', subscriptionsQuery, 'table')
    {
      type: 10
      name: 'backlog'
      content: {
        chartId: 'backlog'
        version: 'MetricsItem/2.0'
        size: 0
        chartType: 2
        resourceType: 'microsoft.servicebus/namespaces'
        metricScope: 0
        resourceIds: [serviceBusNamespaceId]
        timeContextFromParameter: 'TimeRange'
        timeContext: timeRange
        metrics: [
          { namespace: 'microsoft.servicebus/namespaces', metric: 'microsoft.servicebus/namespaces--ActiveMessages', aggregation: 3 }
          { namespace: 'microsoft.servicebus/namespaces', metric: 'microsoft.servicebus/namespaces--ScheduledMessages', aggregation: 3 }
          { namespace: 'microsoft.servicebus/namespaces', metric: 'microsoft.servicebus/namespaces--DeadletteredMessages', aggregation: 3 }
        ]
        title: 'Backlog: changes waiting, scheduled retries and dead-lettered messages'
        gridSettings: { rowLimit: 10000 }
      }
    }
    logItem('dead-letter-reasons', 'Dead letters by reason', deadLetterReasonsQuery, 'table')
    logItem('dead-letters', 'Dead letters, latest first', deadLettersQuery, 'table')
    logItem('breaker', 'Breaker holds', breakerQuery, 'table')
    logItem('decisions', 'Recent decisions of the worker', decisionsQuery, 'table')
    logItem('latency', 'Sync latency per direction (p50, p95)', latencyQuery, 'timechart')
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name is a GUID; this one is stable per component, so a redeployment updates it.
  name: guid(applicationInsightsId, 'sync-status-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: string(content)
    version: '1.0'
  }
}

output id string = workbook.id
