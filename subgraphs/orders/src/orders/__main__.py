"""`python -m orders`: serves the orders subgraph where its settings say (HOST, PORT)."""

from orders.config import Settings
from shopkit.serve import serve


def main() -> None:
    serve("orders.app:create_app", Settings())


if __name__ == "__main__":
    main()
