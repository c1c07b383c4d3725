"""`python -m orders`: serve the orders subgraph (HOST/PORT from the environment)."""

from orders.config import DEFAULT_PORT
from shopkit.serve import serve


def main() -> None:
    serve("orders.app:create_app", DEFAULT_PORT)


if __name__ == "__main__":
    main()
