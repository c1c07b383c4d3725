"""The users subgraph: accounts, sign-up and sign-in (EdDSA JWTs), addresses."""
