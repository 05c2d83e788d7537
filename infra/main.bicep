// dataverse-exchange-sync: everything `azd up` creates, in one resource group. Read it as the resource list; each
// module says why it is shaped the way it is. Secrets are never parameters or outputs here: the azd hooks put them in
// Key Vault (docs/deploy.md).
targetScope = 'subscription'

@description('azd environment name; names and tags derive from it.')
@minLength(1)
@maxLength(40)
param environmentName string

@description('Azure region of every resource (one where Flex Consumption is available: az functionapp list-flexconsumption-locations).')
@minLength(1)
@maxLength(64)
param location string

@description('Resource group name; empty for rg-<environmentName>.')
@maxLength(90)
param resourceGroupName string = ''

@description('Object id of the operator running azd (azd sets AZURE_PRINCIPAL_ID); gets Key Vault Secrets Officer to store the secrets. Empty for none.')
@maxLength(36)
param principalId string = ''

@description('Kind of principal principalId is.')
@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

@description('Entra tenant id of the synced Microsoft 365 tenant; empty for the tenant of this subscription.')
@maxLength(36)
param syncTenantId string = ''

@description('Application (client) id of the Entra app registration the sync uses for Graph and Dataverse (docs/deploy.md, step 1).')
@minLength(36)
@maxLength(36)
param syncClientId string

@description('Credential of that app registration, stored in Key Vault by the postprovision hook: a client secret, or a certificate (PEM bundle with the private key).')
@allowed(['secret', 'certificate'])
param syncClientCredentialType string = 'secret'

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com.')
@minLength(9)
@maxLength(200)
param dataverseUrl string

@description('systemuserid of the sync application user in Dataverse; empty to let the app read it with WhoAmI.')
@maxLength(36)
param dataverseApplicationUserId string = ''

@description('Microsoft Graph base URL without the version segment (change only for a national cloud).')
@minLength(9)
@maxLength(200)
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Prefix of the app\'s table names: 1-20 letters or digits, starting with a letter.')
@minLength(1)
@maxLength(20)
param tablePrefix string = 'sync'

@description('Field changed on both sides since the last sync: which side wins.')
@allowed(['lastModifiedWins', 'dataverseWins', 'exchangeWins'])
param conflictPolicy string = 'lastModifiedWins'

@description('Propagate Dataverse appointment cancellations to Exchange (server-side sync\'s SSSPropagateAppointmentCancellationsToExchange).')
param propagateCancellations bool = false

@description('Sync window for backfill and calendar delta: days back.')
@minValue(0)
@maxValue(3650)
param windowPastDays int = 30

@description('Sync window: days ahead.')
@minValue(1)
@maxValue(3650)
param windowFutureDays int = 365

@description('Attempts of one change before it is dead-lettered with its reason.')
@minValue(1)
@maxValue(50)
param maxAttempts int = 8

@description('Outlook category that tracks a mail of an email-enabled mailbox (SYNC_EMAIL_CATEGORY).')
@minLength(1)
@maxLength(255)
param emailCategory string = 'Tracked to Dynamics 365'

@description('Sends per sender mailbox per minute: Exchange Online accepts 30 (SYNC_EMAIL_SENDS_PER_WINDOW).')
@minValue(1)
@maxValue(10000)
param emailSendsPerMinute int = 30

@description('Per-mailbox Graph budget across instances: shared (a lease per mailbox in the Budget table), local or off (SYNC_GRAPH_BUDGET).')
@allowed(['shared', 'local', 'off'])
param graphBudget string = 'shared'

@description('Dataverse budget per application user: shared (each instance takes 1/N), local or off (SYNC_DATAVERSE_BUDGET).')
@allowed(['shared', 'local', 'off'])
param dataverseBudget string = 'shared'

@description('Dataverse requests per 5 minutes per application user, all instances together: 90% of 6,000 (SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES).')
@minValue(1)
@maxValue(1000000)
param dataverseRequestsPer5Minutes int = 5400

@description('Concurrent Dataverse requests per application user, all instances together: 92% of 52 (SYNC_DATAVERSE_CONCURRENT_REQUESTS).')
@minValue(1)
@maxValue(10000)
param dataverseConcurrentRequests int = 47

@description('Most Dataverse calls sent together as one $batch while they wait for the budget; 1 turns batching off (SYNC_DATAVERSE_BATCH_MAX).')
@minValue(1)
@maxValue(1000)
param dataverseBatchMax int = 20

@description('Client ids of further app registrations to spread the Dataverse load over, each with its own application user; their client secrets go in Key Vault as sync-dataverse-app-2-secret, -3-, ... in this order (DATAVERSE_APPLICATION_USERS).')
@maxLength(4)
param dataverseApplicationUsers array = []

@description('Backfill changes per second per mailbox (SYNC_BACKFILL_CHANGES_PER_SECOND; 0: all at once).')
@minValue(0)
@maxValue(1000)
param backfillChangesPerSecond int = 5

@description('Memory of each Function App instance in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Most instances the Function App scales out to (Flex Consumption: 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Always-ready instances for the HTTP functions (Graph expects an answer within 3 seconds; 0 saves the baseline cost but risks cold starts).')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 1

@description('Always-ready instances for the Service Bus worker (0: the first change after an idle period may wait for a cold start).')
@minValue(0)
@maxValue(20)
param alwaysReadyWorkerInstances int = 0

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Key Vault purge protection (recommended for production; once on it cannot be turned off, and `azd down --purge` cannot purge the vault).')
param keyVaultPurgeProtection bool = true

@description('E-mail address that receives the alerts; empty for none.')
@maxLength(254)
param alertEmail string = ''

@description('Failure rate (percent of one function\'s invocations over 15 minutes) that raises an alert.')
@minValue(1)
@maxValue(100)
param failureRateThresholdPercent int = 20

@description('Fewest invocations of one function in 15 minutes before its failure rate is judged.')
@minValue(1)
@maxValue(1000)
param failureRateMinimumInvocations int = 5

@description('Sync latency p95 (change received -> written to the other side, over 15 minutes) that raises an alert, in milliseconds.')
@minValue(1000)
@maxValue(3600000)
param latencyP95ThresholdMs int = 120000

@description('Fewest changes of one direction in 15 minutes before their latency p95 is judged.')
@minValue(1)
@maxValue(10000)
param latencyMinimumChanges int = 5

// Same environment, subscription and region give the same names, so `azd up` is repeatable.
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var azdServiceName = 'sync'
var secretNames = {
  clientSecret: 'sync-client-secret'
  clientCertificate: 'sync-client-certificate'
  dataverseWebhookKey: 'dataverse-webhook-key'
  graphNotificationKey: 'graph-notifications-function-key'
  // Client secrets of the further application users (dataverseApplicationUsers), in list order.
  dataverseApp2Secret: 'sync-dataverse-app-2-secret'
  dataverseApp3Secret: 'sync-dataverse-app-3-secret'
  dataverseApp4Secret: 'sync-dataverse-app-4-secret'
  dataverseApp5Secret: 'sync-dataverse-app-5-secret'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'deployment-package'
    tablePrefix: tablePrefix
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    enablePurgeProtection: keyVaultPurgeProtection
    softDeleteRetentionInDays: 90
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

// Before the app: the host starts as soon as the site exists and must already be able to reach storage,
// Service Bus, Key Vault and Application Insights with its identity.
module roles 'modules/roles.bicep' = {
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    queueNames: serviceBus.outputs.queueNames
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'modules/functionapp.bicep' = {
  scope: rg
  dependsOn: [roles]
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    azdServiceName: azdServiceName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    keyVaultName: keyVault.outputs.name
    secretNames: secretNames
    clientCredentialType: syncClientCredentialType
    syncTenantId: empty(syncTenantId) ? tenant().tenantId : syncTenantId
    syncClientId: syncClientId
    graphBaseUrl: graphBaseUrl
    dataverseUrl: dataverseUrl
    dataverseApplicationUserId: dataverseApplicationUserId
    tablePrefix: tablePrefix
    conflictPolicy: conflictPolicy
    propagateCancellations: propagateCancellations
    windowPastDays: windowPastDays
    windowFutureDays: windowFutureDays
    maxAttempts: maxAttempts
    emailCategory: emailCategory
    emailSendsPerMinute: emailSendsPerMinute
    graphBudget: graphBudget
    dataverseBudget: dataverseBudget
    dataverseRequestsPer5Minutes: dataverseRequestsPer5Minutes
    dataverseConcurrentRequests: dataverseConcurrentRequests
    dataverseBatchMax: dataverseBatchMax
    dataverseApplicationUsers: dataverseApplicationUsers
    backfillChangesPerSecond: backfillChangesPerSecond
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    alwaysReadyWorkerInstances: alwaysReadyWorkerInstances
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module alerts 'modules/alerts.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: 'alert-${resourceToken}'
    serviceBusNamespaceId: serviceBus.outputs.id
    queueNames: serviceBus.outputs.queueNames
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    failureRateThresholdPercent: failureRateThresholdPercent
    failureRateMinimumInvocations: failureRateMinimumInvocations
    latencyP95ThresholdMs: latencyP95ThresholdMs
    latencyMinimumChanges: latencyMinimumChanges
    alertEmail: alertEmail
  }
}

// The status page's views over the telemetry, in the portal (Application Insights -> Workbooks).
module workbook 'modules/workbook.bicep' = {
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    serviceBusNamespaceId: serviceBus.outputs.id
    displayName: 'Sync status (${environmentName})'
  }
}

// What the operator and the azd hooks need next (azd stores these in .azure/<env>/.env). No secret: the function
// keys the webhook URLs need are read by the postdeploy hook, after the code is deployed.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOST string = functionApp.outputs.defaultHostName
output WEBHOOK_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output GRAPH_NOTIFICATION_URL string = 'https://${functionApp.outputs.defaultHostName}/api/graph/notifications'
output DATAVERSE_WEBHOOK_URL string = 'https://${functionApp.outputs.defaultHostName}/api/dataverse/webhook'
output STATUS_URL string = 'https://${functionApp.outputs.defaultHostName}/api/status'
output STATUS_PAGE_URL string = 'https://${functionApp.outputs.defaultHostName}/api/status/page'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output SYNC_CLIENT_CREDENTIAL_TYPE string = syncClientCredentialType
output SYNC_CLIENT_CREDENTIAL_VAULT_ENTRY string = syncClientCredentialType == 'secret' ? secretNames.clientSecret : secretNames.clientCertificate
output DATAVERSE_WEBHOOK_KEY_VAULT_ENTRY string = secretNames.dataverseWebhookKey
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output SERVICE_BUS_QUEUE_NAMES string[] = serviceBus.outputs.queueNames
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceId
output AZURE_WORKBOOK_ID string = workbook.outputs.id
