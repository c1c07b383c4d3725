"""The product catalog, seeded at every start (idempotent: upserts by SKU)."""

from typing import NamedTuple

from orders.store import OrderStore, ProductRecord
from shopkit.records import Amount

CURRENCY = "USD"


class CatalogProduct(NamedTuple):
    sku: str
    name: str
    price_cents: int


CATALOG: tuple[CatalogProduct, ...] = (
    CatalogProduct("KB-MECH-TKL", "Tenkeyless Mechanical Keyboard (Brown Switches)", 8999),
    CatalogProduct("MS-ERGO-WL", "Wireless Ergonomic Mouse", 4950),
    CatalogProduct("MON-27-QHD", '27" QHD IPS Monitor', 27900),
    CatalogProduct("USB-C-HUB-7", "7-in-1 USB-C Hub", 3499),
    CatalogProduct("HP-ANC-OVR", "Noise-Cancelling Over-Ear Headphones", 19900),
    CatalogProduct("CAM-HD-1080", "1080p Webcam with Privacy Shutter", 5900),
    CatalogProduct("SSD-NVME-1TB", "1 TB NVMe SSD", 7999),
    CatalogProduct("CBL-USBC-2M", "USB-C to USB-C Cable, 2 m", 1299),
    CatalogProduct("LAMP-LED-DSK", "Dimmable LED Desk Lamp", 3995),
    CatalogProduct("CHAIR-MESH", "Mesh Office Chair with Lumbar Support", 24900),
    CatalogProduct("DESK-STAND-120", "Electric Standing Desk, 120 cm", 38900),
    CatalogProduct("MUG-CER-350", "Ceramic Coffee Mug, 350 ml", 1450),
    CatalogProduct("BOT-STEEL-750", "Insulated Steel Water Bottle, 750 ml", 2800),
    CatalogProduct("NB-DOT-A5", "Dotted A5 Notebook", 1800),
    CatalogProduct("PEN-GEL-12", "Gel Pens, Pack of 12", 999),
    CatalogProduct("BAG-LAP-15", '15" Laptop Backpack', 6900),
    CatalogProduct("SPK-BT-MINI", "Portable Bluetooth Speaker", 4499),
    CatalogProduct("CHG-GAN-65W", "65 W GaN USB-C Charger", 3999),
    CatalogProduct("PAD-DESK-XL", "Extended Desk Mat, 90 x 40 cm", 2499),
    CatalogProduct("KETTLE-ELEC", "Electric Gooseneck Kettle", 6950),
    CatalogProduct("GRINDER-BURR", "Conical Burr Coffee Grinder", 12900),
    CatalogProduct("PLANT-SNAKE", "Snake Plant in Ceramic Pot", 3200),
    CatalogProduct("HDMI-2.1-2M", "HDMI 2.1 Cable, 2 m", 1699),
    CatalogProduct("STAND-LAP-AL", "Aluminium Laptop Stand", 3599),
)


async def seed_catalog(store: OrderStore) -> None:
    await store.upsert_products(
        [
            ProductRecord(
                sku=product.sku,
                name=product.name,
                price=Amount(amount=product.price_cents, currency=CURRENCY),
            )
            for product in CATALOG
        ]
    )
