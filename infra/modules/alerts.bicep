// Alerts an operator must see: a change that ended in the dead-letter queue (it will not be retried by itself, see
// docs/operations.md), functions failing at a high rate, and from the app's own telemetry (shared/telemetry): sync
// latency p95 above a threshold, dead letters by reason, a mailbox whose sync stopped (degraded, paused, blocked) and
// writes held by the mass-delete breaker. All go to an optional e-mail action group.

@description('Azure region of the log alert (metric alerts and action groups are global).')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to the alerts.')
param tags object

@description('Prefix of the alert names.')
@minLength(1)
@maxLength(40)
param namePrefix string

@description('Resource id of the Service Bus namespace.')
@minLength(1)
@maxLength(1024)
param serviceBusNamespaceId string

@description('Queues whose dead-letter count is watched.')
param queueNames string[]

@description('Resource id of the Application Insights component.')
@minLength(1)
@maxLength(1024)
param applicationInsightsId string

@description('Failure rate (percent of invocations of one function over 15 minutes) that raises the alert.')
@minValue(1)
@maxValue(100)
param failureRateThresholdPercent int

@description('Fewest invocations of one function in 15 minutes before its failure rate counts (avoids alerting on 1 of 1).')
@minValue(1)
@maxValue(1000)
param failureRateMinimumInvocations int

@description('Sync latency (change received -> written to the other side) whose 95th percentile over 15 minutes raises the alert, in milliseconds.')
@minValue(1000)
@maxValue(3600000)
param latencyP95ThresholdMs int

@description('Fewest changes of one direction in 15 minutes before their latency p95 is judged.')
@minValue(1)
@maxValue(10000)
param latencyMinimumChanges int

@description('E-mail address that receives the alerts; empty for none (alerts still show in the portal).')
@maxLength(254)
param alertEmail string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-operators'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'syncops'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var metricAlertActions = empty(alertEmail) ? [] : [{ actionGroupId: actionGroup.id }]

// DeadletteredMessages is the current count in the dead-letter sub-queue, so the alert stays fired until the
// messages are replayed or removed (npm run dlq, docs/operations.md), then resolves itself.
resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for queueName in queueNames: {
    name: '${namePrefix}-dead-letters-${queueName}'
    location: 'global'
    tags: tags
    properties: {
      description: 'Messages in the dead-letter queue of ${queueName}: changes that were not applied and will not be retried until replayed.'
      severity: 2
      enabled: true
      scopes: [serviceBusNamespaceId]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT5M'
      autoMitigate: true
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: 'DeadLetteredMessages'
            metricNamespace: 'Microsoft.ServiceBus/namespaces'
            metricName: 'DeadletteredMessages'
            dimensions: [
              {
                name: 'EntityName'
                operator: 'Include'
                values: [queueName]
              }
            ]
            operator: 'GreaterThan'
            threshold: 0
            timeAggregation: 'Maximum'
          }
        ]
      }
      actions: metricAlertActions
    }
  }
]

// Every invocation (HTTP, Service Bus, timer) is a row in `requests`; split by function so the alert names it.
resource failureRateAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-function-failure-rate'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}-function-failure-rate'
    description: 'A function failed in more than ${failureRateThresholdPercent}% of at least ${failureRateMinimumInvocations} invocations over 15 minutes.'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'requests | summarize Total = count(), Failed = countif(success == false) by operation_Name | where Total >= ${failureRateMinimumInvocations} | extend FailureRatePercent = 100.0 * Failed / Total'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'FailureRatePercent'
          dimensions: [
            {
              name: 'operation_Name'
              operator: 'Include'
              values: ['*']
            }
          ]
          operator: 'GreaterThan'
          threshold: failureRateThresholdPercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
    }
  }
}

// The app's own telemetry, in the Application Insights tables (shared/telemetry; README "Operations" lists the
// metrics and their dimensions). Each rule splits by its dimensions, so one alert names the direction, the reason or
// the mailbox it is about, and resolves itself when its query returns nothing.
var latencyQuery = '''traces
| where message == "change applied"
| extend direction = tostring(customDimensions.direction), latencyMs = todouble(customDimensions.latencyMs)
| where isnotempty(direction) and isnotnull(latencyMs)
| summarize P95LatencyMs = percentile(latencyMs, 95), Changes = count() by direction
| where Changes >= '''

var telemetryAlerts = [
  {
    name: 'sync-latency-p95'
    description: 'The 95th percentile of sync latency (change received -> written to the other side) of one direction was above ${latencyP95ThresholdMs} ms over 15 minutes.'
    severity: 2
    windowSize: 'PT15M'
    // Application Insights keeps an OpenTelemetry histogram (sync.latency) as sum, count, min and max per export, which
    // gives no percentile (https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify, "Add custom
    // metrics"); each change's `change applied` record carries its latencyMs, so the p95 is computed from those.
    query: '${latencyQuery}${latencyMinimumChanges}'
    measure: 'P95LatencyMs'
    dimensions: ['direction']
    threshold: latencyP95ThresholdMs
  }
  {
    name: 'sync-dead-letters'
    description: 'Changes were dead-lettered (sync.dead_letters): they will not be retried until replayed (npm run dlq, docs/operations.md). The alert names the reason, kind and direction.'
    severity: 2
    windowSize: 'PT15M'
    query: '''customMetrics
| where name == "sync.dead_letters"
| extend reason = tostring(customDimensions.reason), kind = tostring(customDimensions.kind), direction = tostring(customDimensions.direction)
| summarize DeadLetters = sum(valueSum) by reason, kind, direction'''
    measure: 'DeadLetters'
    dimensions: ['reason', 'kind', 'direction']
    threshold: 0
  }
  {
    // sync.mailbox.attention is 1 in a state that stops a mailbox's sync, 0 otherwise: recorded at each state change,
    // and for the mailboxes needing attention once a minute (a paged pass the To Do poll's timer starts; the app never
    // reads the whole registry for it, shared/sync/work.ts). So a mailbox still needs attention while its 1s keep
    // coming: one whose last sample is a 1 older than 15 minutes left the state where no sample was recorded (a
    // `mailbox enable` or `disable` from the CLI) and is not alerted on. A paused mailbox resumes by itself
    // (transient errors back off for up to an hour), so it alerts once it has been paused for the whole hour (no 0
    // in the hour, from its resume); degraded and blocked alert at once.
    name: 'sync-mailbox-attention'
    description: 'A mailbox stopped syncing (degraded or blocked, or paused for an hour). The alert names the mailbox (Entra object id) and its state; the reason is on the status page (GET /api/status/page).'
    severity: 1
    windowSize: 'PT1H'
    query: '''customMetrics
| where name == "sync.mailbox.attention"
| extend mailboxId = tostring(customDimensions.mailboxId), state = tostring(customDimensions.state)
| summarize arg_max(timestamp, value, state), HealthySamples = countif(value == 0), FirstSample = min(timestamp) by mailboxId
| where value > 0 and timestamp > ago(15m) and (state != "paused" or (HealthySamples == 0 and FirstSample < ago(55m)))
| project mailboxId, state, NeedsAttention = value'''
    measure: 'NeedsAttention'
    dimensions: ['mailboxId', 'state']
    threshold: 0
  }
  {
    name: 'sync-breaker-holds'
    description: 'The mass-delete breaker held writes (sync.breaker.holds): they wait for a person to release or discard them. The alert names the scope (mailbox, kind, direction) and the trigger.'
    severity: 2
    windowSize: 'PT15M'
    query: '''customMetrics
| where name == "sync.breaker.holds"
| extend mailboxId = tostring(customDimensions.mailboxId), kind = tostring(customDimensions.kind), direction = tostring(customDimensions.direction), trigger = tostring(customDimensions.trigger)
| summarize Held = sum(valueSum) by mailboxId, kind, direction, trigger'''
    measure: 'Held'
    dimensions: ['mailboxId', 'kind', 'direction', 'trigger']
    threshold: 0
  }
]

resource telemetryAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in telemetryAlerts: {
    name: '${namePrefix}-${alert.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: '${namePrefix}-${alert.name}'
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [applicationInsightsId]
      evaluationFrequency: 'PT5M'
      windowSize: alert.windowSize
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Maximum'
            metricMeasureColumn: alert.measure
            dimensions: [for d in alert.dimensions: { name: d, operator: 'Include', values: ['*'] }]
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: empty(alertEmail) ? [] : [actionGroup.id]
      }
    }
  }
]

output telemetryAlertNames string[] = [for (alert, i) in telemetryAlerts: telemetryAlert[i].name]
