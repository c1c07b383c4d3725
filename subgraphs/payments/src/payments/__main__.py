"""`python -m payments`: serves the payments subgraph (HOST/PORT, default 127.0.0.1:4003)."""

from payments.config import DEFAULT_PORT
from shopkit.serve import serve

if __name__ == "__main__":
    serve("payments.app:create_app", DEFAULT_PORT)
