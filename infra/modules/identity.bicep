// The user-assigned managed identity the Function App runs as: host storage, deployment package, tables, Service Bus,
// Key Vault references and Application Insights ingestion all authenticate with it, so no key or connection string
// is ever stored (azure-platform.md section 3).

@description('Name of the user-assigned managed identity.')
@minLength(3)
@maxLength(128)
param name string

@description('Azure region.')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to the identity.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
