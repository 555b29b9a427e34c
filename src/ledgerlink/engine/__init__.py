"""Durable execution on DBOS Transact: the runtime context, queues per connection, and retry policy."""
