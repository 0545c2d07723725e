"""DynamoDB access: every write conditional, money moves in one TransactWriteItems."""
