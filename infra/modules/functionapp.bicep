// The Function App on the Flex Consumption plan (one app per plan). Runtime and version live in
// functionAppConfig.runtime: Flex rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE
// and the other classic settings, and site properties such as ftpsState or alwaysOn (azure-platform.md section 1).
// The app settings are exactly the names shared/config.ts reads plus the platform's own (test/infra checks both).

@description('Name of the Function App (globally unique host name).')
@minLength(2)
@maxLength(60)
param name string

@description('Name of the Flex Consumption plan.')
@minLength(1)
@maxLength(60)
param planName string

@description('Azure region.')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to the plan and the app (the app also gets azd-service-name).')
param tags object

@description('The azd service name in azure.yaml; azd finds the app to deploy to by this tag.')
@minLength(1)
@maxLength(32)
param azdServiceName string

@description('Resource id of the user-assigned managed identity the app runs as.')
@minLength(1)
@maxLength(1024)
param identityId string

@description('Client id of that identity.')
@minLength(36)
@maxLength(36)
param identityClientId string

@description('URL of the blob container that receives the deployment package.')
@minLength(1)
@maxLength(1024)
param deploymentContainerUrl string

@description('Blob service endpoint of the storage account.')
@minLength(1)
@maxLength(1024)
param blobEndpoint string

@description('Queue service endpoint of the storage account.')
@minLength(1)
@maxLength(1024)
param queueEndpoint string

@description('Table service endpoint of the storage account.')
@minLength(1)
@maxLength(1024)
param tableEndpoint string

@description('Host name of the Service Bus namespace (<namespace>.servicebus.windows.net).')
@minLength(1)
@maxLength(1024)
param serviceBusFullyQualifiedNamespace string

@description('Application Insights connection string (not a secret: ingestion needs an Entra token, local auth is off).')
@minLength(1)
@maxLength(1024)
param applicationInsightsConnectionString string

@description('Name of the key vault the secret settings reference.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Key Vault secret names: clientSecret, clientCertificate, dataverseWebhookKey, graphNotificationKey.')
param secretNames {
  clientSecret: string
  clientCertificate: string
  dataverseWebhookKey: string
  graphNotificationKey: string
  dataverseApp2Secret: string
  dataverseApp3Secret: string
  dataverseApp4Secret: string
  dataverseApp5Secret: string
}

@description('Which credential the sync app registration uses: a client secret or a certificate (PEM with private key).')
@allowed(['secret', 'certificate'])
param clientCredentialType string

@description('Entra tenant id of the synced Microsoft 365 tenant (SYNC_TENANT_ID).')
@minLength(36)
@maxLength(36)
param syncTenantId string

@description('Application (client) id of the sync app registration (SYNC_CLIENT_ID).')
@minLength(36)
@maxLength(36)
param syncClientId string

@description('Microsoft Graph base URL without the version segment (GRAPH_BASE_URL).')
@minLength(9)
@maxLength(200)
param graphBaseUrl string

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com (DATAVERSE_URL).')
@minLength(9)
@maxLength(200)
param dataverseUrl string

@description('systemuserid of the sync application user in Dataverse; empty to let the app read it with WhoAmI (DATAVERSE_APPLICATION_USER_ID).')
@maxLength(36)
param dataverseApplicationUserId string

@description('Prefix of the table names (SYNC_TABLE_PREFIX).')
@minLength(1)
@maxLength(20)
param tablePrefix string

@description('Field changed on both sides: which side wins (SYNC_CONFLICT_POLICY).')
@allowed(['lastModifiedWins', 'dataverseWins', 'exchangeWins'])
param conflictPolicy string

@description('Propagate Dataverse appointment cancellations to Exchange (SYNC_PROPAGATE_CANCELLATIONS).')
param propagateCancellations bool

@description('Days back the sync window reaches (SYNC_WINDOW_PAST_DAYS).')
@minValue(0)
@maxValue(3650)
param windowPastDays int

@description('Days ahead the sync window reaches (SYNC_WINDOW_FUTURE_DAYS).')
@minValue(1)
@maxValue(3650)
param windowFutureDays int

@description('Attempts of one change before it is dead-lettered (SYNC_MAX_ATTEMPTS).')
@minValue(1)
@maxValue(50)
param maxAttempts int

@description('Outlook category that tracks a mail (SYNC_EMAIL_CATEGORY).')
@minLength(1)
@maxLength(255)
param emailCategory string

@description('Sends per sender mailbox per minute (SYNC_EMAIL_SENDS_PER_WINDOW; the window, SYNC_EMAIL_SEND_WINDOW_MS, is a minute).')
@minValue(1)
@maxValue(10000)
param emailSendsPerMinute int

@description('Per-mailbox Graph budget across instances: shared (a lease per mailbox in the Budget table), local or off (SYNC_GRAPH_BUDGET).')
@allowed(['shared', 'local', 'off'])
param graphBudget string

@description('Dataverse budget per application user: shared (each instance takes 1/N), local or off (SYNC_DATAVERSE_BUDGET).')
@allowed(['shared', 'local', 'off'])
param dataverseBudget string

@description('Dataverse requests per 5 minutes per application user, all instances together: 90% of 6,000 (SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES).')
@minValue(1)
@maxValue(1000000)
param dataverseRequestsPer5Minutes int

@description('Concurrent Dataverse requests per application user, all instances together: 92% of 52 (SYNC_DATAVERSE_CONCURRENT_REQUESTS).')
@minValue(1)
@maxValue(10000)
param dataverseConcurrentRequests int

@description('Most Dataverse calls sent together as one $batch while they wait for the budget; 1 turns batching off (SYNC_DATAVERSE_BATCH_MAX).')
@minValue(1)
@maxValue(1000)
param dataverseBatchMax int

@description('Client ids of further app registrations to spread the Dataverse load over; their secrets are secretNames.dataverseApp2Secret and on, in this order (DATAVERSE_APPLICATION_USERS).')
@maxLength(4)
param dataverseApplicationUsers array

@description('Backfill changes per second per mailbox (SYNC_BACKFILL_CHANGES_PER_SECOND; 0: all at once).')
@minValue(0)
@maxValue(1000)
param backfillChangesPerSecond int

@description('Memory of each instance in MB (Flex Consumption sizes).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Instances kept warm for the HTTP functions, so Graph and Dataverse webhooks are answered without a cold start.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int

@description('Instances kept warm for the Service Bus worker (syncWorker).')
@minValue(0)
@maxValue(20)
param alwaysReadyWorkerInstances int

@description('Resource id of the Log Analytics workspace that receives the diagnostic logs.')
@minLength(1)
@maxLength(1024)
param logAnalyticsWorkspaceId string

// The VaultName form carries no cloud-specific host name; a reference without a version follows rotation
// (refetched within 24 hours, or at once on a settings change: App Service docs, app-service-key-vault-references).
var clientSecretReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.clientSecret})'
var clientCertificateReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.clientCertificate})'
var dataverseWebhookKeyReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.dataverseWebhookKey})'
// Written by the postdeploy hook once the function exists; until then the reference does not resolve and the app
// reports it (shared/config.ts), which only matters for recreating Graph subscriptions.
var dataverseApp2SecretReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.dataverseApp2Secret})'
var dataverseApp3SecretReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.dataverseApp3Secret})'
var dataverseApp4SecretReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.dataverseApp4Secret})'
var dataverseApp5SecretReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.dataverseApp5Secret})'
var graphNotificationKeyReference = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.graphNotificationKey})'

// Function names from functions/README.md: the worker gets its own always-ready group.
var alwaysReady = concat(
  alwaysReadyHttpInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyHttpInstances }] : [],
  alwaysReadyWorkerInstances > 0 ? [{ name: 'function:syncWorker', instanceCount: alwaysReadyWorkerInstances }] : []
)

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': azdServiceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReady
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // Read by shared/config.ts.
    SYNC_TENANT_ID: syncTenantId
    SYNC_CLIENT_ID: syncClientId
    // Exactly one credential is set; the other is empty, which config.ts treats as not set.
    SYNC_CLIENT_SECRET: clientCredentialType == 'secret' ? clientSecretReference : ''
    SYNC_CLIENT_CERTIFICATE: clientCredentialType == 'certificate' ? clientCertificateReference : ''
    SYNC_AUTHORITY_HOST: environment().authentication.loginEndpoint
    GRAPH_BASE_URL: graphBaseUrl
    DATAVERSE_URL: dataverseUrl
    DATAVERSE_APPLICATION_USER_ID: dataverseApplicationUserId
    DATAVERSE_WEBHOOK_KEY: dataverseWebhookKeyReference
    GRAPH_NOTIFICATION_FUNCTION_KEY: graphNotificationKeyReference
    WEBHOOK_BASE_URL: 'https://${app.properties.defaultHostName}/api'
    SYNC_TABLES_URL: tableEndpoint
    SYNC_TABLE_PREFIX: tablePrefix
    ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
    AZURE_CLIENT_ID: identityClientId
    SYNC_CONFLICT_POLICY: conflictPolicy
    SYNC_PROPAGATE_CANCELLATIONS: string(propagateCancellations)
    SYNC_WINDOW_PAST_DAYS: string(windowPastDays)
    SYNC_WINDOW_FUTURE_DAYS: string(windowFutureDays)
    SYNC_MAX_ATTEMPTS: string(maxAttempts)
    SYNC_EMAIL_CATEGORY: emailCategory
    SYNC_EMAIL_SENDS_PER_WINDOW: string(emailSendsPerMinute)
    SYNC_EMAIL_SEND_WINDOW_MS: '60000'
    SYNC_GRAPH_BUDGET: graphBudget
    SYNC_DATAVERSE_BUDGET: dataverseBudget
    SYNC_DATAVERSE_REQUESTS_PER_5_MINUTES: string(dataverseRequestsPer5Minutes)
    SYNC_DATAVERSE_CONCURRENT_REQUESTS: string(dataverseConcurrentRequests)
    SYNC_DATAVERSE_BATCH_MAX: string(dataverseBatchMax)
    SYNC_BACKFILL_CHANGES_PER_SECOND: string(backfillChangesPerSecond)
    // The further application users name the settings of their secrets (config.ts applicationUserSecretSettings), each a Key Vault reference.
    DATAVERSE_APPLICATION_USERS: empty(dataverseApplicationUsers) ? '' : string(map(range(0, length(dataverseApplicationUsers)), i => { clientId: dataverseApplicationUsers[i], secretSetting: 'SYNC_DATAVERSE_APP_${i + 2}_SECRET' }))
    SYNC_DATAVERSE_APP_2_SECRET: length(dataverseApplicationUsers) > 0 ? dataverseApp2SecretReference : ''
    SYNC_DATAVERSE_APP_3_SECRET: length(dataverseApplicationUsers) > 1 ? dataverseApp3SecretReference : ''
    SYNC_DATAVERSE_APP_4_SECRET: length(dataverseApplicationUsers) > 2 ? dataverseApp4SecretReference : ''
    SYNC_DATAVERSE_APP_5_SECRET: length(dataverseApplicationUsers) > 3 ? dataverseApp5SecretReference : ''
    // Read by the Functions host and the Service Bus extension (config.ts platformSettingNames).
    AzureWebJobsStorage__blobServiceUri: blobEndpoint
    AzureWebJobsStorage__queueServiceUri: queueEndpoint
    AzureWebJobsStorage__tableServiceUri: tableEndpoint
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    ServiceBusConnection__credential: 'managedidentity'
    ServiceBusConnection__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  }
}

// Deployments go through the blob container with the managed identity; FTP and basic-auth (SCM) publishing stay off.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: app
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ category: 'FunctionAppLogs', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
