// Service Bus namespace and the queues of shared/servicebus/queues.ts (test/infra checks the two agree). Standard
// tier: sessions, duplicate detection and scheduled messages are there, Basic has none of them. Local (SAS) auth is
// off, so only Entra identities with a data role can send or receive.

@description('Name of the Service Bus namespace (6-50 characters).')
@minLength(6)
@maxLength(50)
param name string

@description('Azure region.')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to the namespace.')
param tags object

@description('Resource id of the Log Analytics workspace that receives the diagnostic logs.')
@minLength(1)
@maxLength(1024)
param logAnalyticsWorkspaceId string

// Copied from shared/servicebus/queues.ts, property for property. requiresSession and requiresDuplicateDetection
// cannot change after the queue exists (https://learn.microsoft.com/azure/service-bus-messaging/message-sessions):
// changing them means a new queue name. The changes queue lost its sessions and so became sync-item-changes; the old
// sync-changes stays for this release, whose legacyChangesWorker drains it, and is then deleted (docs/operations.md,
// "Upgrading to sync-item-changes").
var queues = [
  {
    name: 'sync-item-changes'
    properties: {
      requiresSession: false
      maxDeliveryCount: 5
      lockDuration: 'PT1M'
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT1H'
      defaultMessageTimeToLive: 'P14D'
      deadLetteringOnMessageExpiration: true
      enablePartitioning: false
      enableBatchedOperations: true
      maxSizeInMegabytes: 1024
    }
  }
  {
    name: 'sync-mailbox-work'
    properties: {
      requiresSession: true
      maxDeliveryCount: 5
      lockDuration: 'PT1M'
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT1H'
      defaultMessageTimeToLive: 'PT1H'
      deadLetteringOnMessageExpiration: false
      enablePartitioning: false
      enableBatchedOperations: true
      maxSizeInMegabytes: 1024
    }
  }
  {
    name: 'sync-changes'
    properties: {
      requiresSession: true
      maxDeliveryCount: 5
      lockDuration: 'PT1M'
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT1H'
      defaultMessageTimeToLive: 'P14D'
      deadLetteringOnMessageExpiration: true
      enablePartitioning: false
      enableBatchedOperations: true
      maxSizeInMegabytes: 1024
    }
  }
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queueResources 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for queue in queues: {
    parent: namespace
    name: queue.name
    properties: queue.properties
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

output id string = namespace.id
output name string = namespace.name
// serviceBusEndpoint is https://<namespace>.<cloud suffix>:443/; the trigger wants the bare host name.
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]
output queueNames string[] = [for (queue, i) in queues: queueResources[i].name]
