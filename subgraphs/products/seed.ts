import type { Database } from "../shared/db.ts";
import type { ProductsTables } from "./migrations.ts";

/** Name and unit price in cents. The index in this list fixes each product's id and catalogue position. */
const CATALOGUE: readonly (readonly [string, number])[] = [
  ["Classic Cotton T-Shirt", 1999],
  ["Slim Fit Denim Jeans", 5999],
  ["Merino Wool Sweater", 8900],
  ["Waterproof Rain Jacket", 12900],
  ["Canvas Sneakers", 4999],
  ["Leather Chelsea Boots", 15900],
  ["Wool Beanie", 2499],
  ["Cashmere Scarf", 7900],
  ["Leather Belt", 3499],
  ["Aviator Sunglasses", 8999],
  ["Stainless Steel Water Bottle", 2999],
  ["Insulated Coffee Tumbler", 2499],
  ["Ceramic Pour-Over Dripper", 3299],
  ["French Press 1L", 3999],
  ["Burr Coffee Grinder", 9900],
  ["Cast Iron Skillet 10in", 4499],
  ["Chef's Knife 8in", 7999],
  ["Bamboo Cutting Board", 2799],
  ["Nonstick Frying Pan", 3999],
  ["Dutch Oven 5.5qt", 17900],
  ["Linen Tea Towels (Set of 3)", 1899],
  ["Glass Food Storage Set", 3499],
  ["Digital Kitchen Scale", 2299],
  ["Electric Kettle", 4999],
  ["Wireless Earbuds", 12900],
  ["Noise-Cancelling Headphones", 29900],
  ["Bluetooth Speaker", 7999],
  ["USB-C Charging Cable 2m", 1499],
  ["65W USB-C Wall Charger", 3999],
  ["Portable Power Bank 10000mAh", 3499],
  ["Mechanical Keyboard", 11900],
  ["Wireless Mouse", 3999],
  ["27in 4K Monitor", 34900],
  ["Laptop Stand", 4599],
  ["HD Webcam", 6999],
  ["Smart LED Bulb (2-Pack)", 2999],
  ["Fitness Tracker", 9999],
  ["E-Reader", 13999],
  ["Hardcover Notebook A5", 1799],
  ["Gel Pens (Pack of 10)", 1299],
  ["Desk Organizer", 2499],
  ["Monthly Wall Calendar", 1599],
  ["Canvas Backpack", 6999],
  ["Leather Wallet", 4999],
  ["Carry-On Suitcase", 19900],
  ["Travel Neck Pillow", 2499],
  ["Yoga Mat", 3999],
  ["Adjustable Dumbbells", 24900],
  ["Resistance Bands Set", 2299],
  ["Foam Roller", 2799],
  ["Jump Rope", 1499],
  ["Running Socks (3 Pairs)", 1999],
  ["Scented Soy Candle", 2199],
  ["Throw Blanket", 4999],
  ["Linen Duvet Cover", 12900],
  ["Memory Foam Pillow", 5999],
  ["Cotton Bath Towel Set", 4499],
  ["Indoor Plant Pot", 2599],
  ["Watering Can", 2199],
  ["Garden Pruning Shears", 2899],
  ["Board Game: Settlers", 4499],
  ["1000-Piece Jigsaw Puzzle", 1999],
  ["Watercolor Paint Set", 3299],
  ["Acoustic Guitar Strings", 1299],
];

export const SEED_PRODUCT_COUNT = CATALOGUE.length;

/** `prod-001`, `prod-002`, … */
export const seedProductId = (index: number): string => `prod-${String(index + 1).padStart(3, "0")}`;

/** Deterministic stock from 20 to 200, varied so that lists don't look machine-made. */
const seedStock = (index: number): number => 20 + ((index * 37 + 11) % 181);

/** Inserts the catalogue products that are missing; products already present (and their stock) are left alone. */
export async function seedProducts(db: Database<ProductsTables>): Promise<number> {
  const now = new Date().toISOString();
  // One statement: instances seeding one database together each insert only what is still missing.
  const result = await db.kysely
    .insertInto("products")
    .values(
      CATALOGUE.map(([name, priceCents], index) => ({
        id: seedProductId(index),
        position: index + 1,
        name,
        price_cents: priceCents,
        currency: "USD",
        stock: seedStock(index),
        created_at: now,
        updated_at: now,
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}
