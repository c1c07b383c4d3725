"""Events between services: envelopes, Redis Streams, and the Mongo outbox."""
