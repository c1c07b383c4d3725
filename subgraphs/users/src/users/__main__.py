"""`python -m users` serves the subgraph on 127.0.0.1:4001 (env HOST/PORT)."""

from shopkit.serve import serve

PORT = 4001

if __name__ == "__main__":
    serve("users.app:create_app", PORT)
