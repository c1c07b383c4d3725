"""The small kit every shopgraph subgraph shares.

Nothing here knows about orders, payments, deliveries or users: only the
plumbing each of them needs in the same shape (auth, errors, stores, events,
health, the ASGI app around a Strawberry schema).
"""
