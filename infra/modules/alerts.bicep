// Alerts an operator must see: a change that ended in the dead-letter queue (it will not be retried by itself, see
// docs/operations.md) and functions failing at a high rate. Both go to an optional e-mail action group.

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
