// Log Analytics workspace (every diagnostic setting lands here) and the workspace-based Application Insights
// component the Functions host writes to. Local (key) auth is off: the app ingests with its managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, azure-platform.md section 3).

@description('Name of the Log Analytics workspace.')
@minLength(4)
@maxLength(63)
param logAnalyticsName string

@description('Name of the Application Insights component.')
@minLength(1)
@maxLength(260)
param applicationInsightsName string

@description('Azure region.')
@minLength(1)
@maxLength(64)
param location string

@description('Tags applied to both resources.')
param tags object

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output applicationInsightsId string = applicationInsights.id
output applicationInsightsName string = applicationInsights.name
// The connection string holds only the ingestion endpoint and instrumentation key, which Microsoft documents as not
// a secret; with local auth disabled it cannot be used without an Entra token anyway.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
