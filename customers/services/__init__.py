"""Business rules of the customer app: one module per capability, each write a service."""
