"""`python -m delivery`: serves the delivery subgraph on HOST:PORT (default 127.0.0.1:4004)."""

from delivery.config import DEFAULT_PORT
from shopkit.serve import serve

if __name__ == "__main__":
    serve("delivery.app:create_app", DEFAULT_PORT)
