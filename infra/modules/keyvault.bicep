// Key Vault for the sync app's Entra credential and the Dataverse webhook key. RBAC mode: the Function App's identity
// reads secrets (Key Vault Secrets User) through Key Vault references, the deploying operator writes them (Key Vault
// Secrets Officer). No secret is created here: a value in a template would sit in the deployment history, so the
// azd postprovision hook creates them (docs/deploy.md).

@description('Name of the key vault (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to the vault.')
param tags object

@description('Purge protection: a deleted vault and its secrets cannot be purged during the soft-delete period. It cannot be turned off again once on.')
param enablePurgeProtection bool

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Resource id of the Log Analytics workspace that receives the diagnostic logs.')
@minLength(1)
@maxLength(1024)
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // ARM rejects false here; omitting the property is how purge protection stays off.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
