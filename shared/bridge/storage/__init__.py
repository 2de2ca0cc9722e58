"""DynamoDB adapters: the only modules that speak to the tables."""
