// Role assignments, each on the narrowest scope that works, named guid(scope, principal, role) so a redeployment
// finds the same assignment instead of failing on a duplicate. Role ids: azure-platform.md section 3.

@description('Principal (object) id of the Function App\'s managed identity.')
@minLength(36)
@maxLength(36)
param appPrincipalId string

@description('Object id of the operator running azd (gets Key Vault Secrets Officer to set the secrets, and the table and queue roles the setup CLI needs); empty for none.')
@maxLength(36)
param operatorPrincipalId string

@description('Kind of principal the operator is.')
@allowed(['User', 'Group', 'ServicePrincipal'])
param operatorPrincipalType string

@description('Name of the storage account.')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Name of the Service Bus namespace.')
@minLength(6)
@maxLength(50)
param serviceBusNamespaceName string

@description('Names of the queues the app sends to and receives from.')
param queueNames string[]

@description('Name of the key vault.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Name of the Application Insights component.')
@minLength(1)
@maxLength(260)
param applicationInsightsName string

var roles = {
  // Host storage (keys, timer leases) and the deployment package: the host needs blob ownership to manage leases.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // The app's tables (@azure/data-tables). No Storage Queue role: no function uses host queues.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // The syncWorker trigger and the senders (webhooks, timers) on the queue itself, not the namespace.
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // Key Vault references resolve with the app's identity (keyVaultReferenceIdentity).
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // The operator writes the secrets once, from the azd hook.
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // The operator's setup CLI: the mailbox registry and pairs (tables), and dead-letter list/replay on the queue
  // (reading and completing the dead-letter sub-queue needs receive rights; Data Owner also lets it send the replay).
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  // Entra-authenticated telemetry ingestion (local auth is off on the component).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = [
  for queueName in queueNames: {
    parent: namespace
    name: queueName
  }
]

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource storageTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource queueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in queueNames: {
    name: guid(queues[i].id, appPrincipalId, roles.serviceBusDataReceiver)
    scope: queues[i]
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    }
  }
]

resource queueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in queueNames: {
    name: guid(queues[i].id, appPrincipalId, roles.serviceBusDataSender)
    scope: queues[i]
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    }
  }
]

resource vaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource vaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

resource operatorTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(storage.id, operatorPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

resource operatorQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in queueNames: if (!empty(operatorPrincipalId)) {
    name: guid(queues[i].id, operatorPrincipalId, roles.serviceBusDataOwner)
    scope: queues[i]
    properties: {
      principalId: operatorPrincipalId
      principalType: operatorPrincipalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    }
  }
]

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}
