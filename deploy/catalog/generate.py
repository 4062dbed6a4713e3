"""Generate the sample catalog: realistic menu and grocery items across cuisines, stores and prices.

Reproducible: a fixed seed, no network, no clock. Regenerate with
    python deploy/catalog/generate.py > deploy/catalog/sample_catalog.jsonl
    python deploy/catalog/generate.py --golden deploy/eval
and a unit test fails when the committed files differ from this script's output.

`--golden DIR` writes the `tag` use case's labelled datasets from what the generator
knows of each item: its cuisine (the restaurant's; `none` for groceries), its dish type
(the category, mapped onto the taxonomy; left out where no value fits), its dietary and
flavour tags (the merchant's, in the taxonomy's spelling; flavour only where the item
has one) and its allergens (ingredient words of the name and description, see
ALLERGEN_WORDS, never contradicting a gluten-free or vegan tag). The answer fields are
removed from `item`: the model sees the name, the description, the price and the store.
Items split by dish (every size and variant of one dish on the same side, so nothing
the golden split scores was learnt from): `tag.jsonl` (golden, about 40%) and
`tag-train.jsonl` (the rest, labels for the cascade and fine-tuning).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path

SEED = 20261121

# store_id, name, cuisine, price multiplier
RESTAURANTS = [
    ("st-luigi", "Luigi's Trattoria", "italian", 1.15),
    ("st-sakura", "Sakura Sushi Bar", "japanese", 1.25),
    ("st-tajspice", "Taj Spice House", "indian", 1.0),
    ("st-mariachi", "El Mariachi Cantina", "mexican", 0.95),
    ("st-golden", "Golden Dragon", "chinese", 0.9),
    ("st-bangkok", "Bangkok Street Kitchen", "thai", 0.95),
    ("st-athens", "Athens Grill", "greek", 1.05),
    ("st-burgeryard", "Burger Yard", "american", 1.0),
    ("st-seoul", "Seoul Bowl", "korean", 1.05),
    ("st-beirut", "Beirut Mezze", "lebanese", 1.0),
]

# cuisine -> (name, category, base price, description, tags)
DISHES = {
    "italian": [
        (
            "Margherita Pizza",
            "pizza",
            11.5,
            "Wood-fired pizza with San Marzano tomato, fior di latte mozzarella and fresh basil",
            ["vegetarian"],
        ),
        (
            "Pepperoni Pizza",
            "pizza",
            13.0,
            "Tomato sauce, mozzarella and spicy pepperoni, baked in a stone oven",
            ["spicy"],
        ),
        (
            "Quattro Formaggi Pizza",
            "pizza",
            14.0,
            "Mozzarella, gorgonzola, parmesan and fontina on a thin crust",
            ["vegetarian"],
        ),
        (
            "Fettuccine Alfredo",
            "pasta",
            14.5,
            "Ribbon pasta in a creamy parmesan and butter sauce with black pepper",
            ["vegetarian", "creamy"],
        ),
        (
            "Spaghetti Carbonara",
            "pasta",
            15.0,
            "Spaghetti with guanciale, egg yolk, pecorino romano and cracked pepper",
            ["creamy"],
        ),
        (
            "Penne Arrabbiata",
            "pasta",
            12.5,
            "Penne in a garlicky tomato sauce with chili flakes and parsley",
            ["vegan", "spicy"],
        ),
        (
            "Lasagna alla Bolognese",
            "pasta",
            16.0,
            "Layers of egg pasta, slow-cooked beef ragu, bechamel and parmesan",
            [],
        ),
        (
            "Mushroom Risotto",
            "risotto",
            15.5,
            "Arborio rice with porcini and cremini mushrooms, white wine and parmesan",
            ["vegetarian", "creamy"],
        ),
        ("Chicken Parmigiana", "mains", 17.5, "Breaded chicken cutlet baked with marinara and melted mozzarella", []),
        (
            "Caprese Salad",
            "salads",
            10.0,
            "Buffalo mozzarella, vine tomatoes, basil and extra virgin olive oil",
            ["vegetarian", "gluten-free"],
        ),
        (
            "Tiramisu",
            "desserts",
            7.5,
            "Espresso-soaked ladyfingers layered with mascarpone cream and cocoa",
            ["vegetarian", "sweet"],
        ),
        (
            "Panna Cotta",
            "desserts",
            7.0,
            "Vanilla cream set with gelatin, served with berry coulis",
            ["sweet", "gluten-free"],
        ),
    ],
    "japanese": [
        (
            "Salmon Nigiri",
            "sushi",
            7.0,
            "Two pieces of fresh Atlantic salmon over seasoned sushi rice",
            ["raw-fish", "gluten-free"],
        ),
        (
            "Tuna Sashimi",
            "sushi",
            12.0,
            "Five slices of bluefin tuna served with wasabi and pickled ginger",
            ["raw-fish", "gluten-free"],
        ),
        ("California Roll", "sushi", 8.5, "Crab stick, avocado and cucumber rolled in rice with sesame seeds", []),
        (
            "Spicy Tuna Roll",
            "sushi",
            9.5,
            "Chopped tuna with sriracha mayo and scallion in a seaweed roll",
            ["spicy", "raw-fish"],
        ),
        ("Dragon Roll", "sushi", 14.0, "Shrimp tempura roll topped with avocado slices and eel sauce", []),
        ("Tonkotsu Ramen", "noodles", 15.0, "Rich pork bone broth with chashu pork, soft egg, nori and scallions", []),
        ("Miso Ramen", "noodles", 14.0, "Fermented soybean broth with corn, bean sprouts, butter and pork", []),
        (
            "Vegetable Tempura",
            "appetizers",
            8.0,
            "Lightly battered sweet potato, zucchini, pepper and shiitake",
            ["vegetarian"],
        ),
        (
            "Chicken Teriyaki",
            "mains",
            16.0,
            "Grilled chicken thigh glazed with sweet soy teriyaki, with steamed rice",
            [],
        ),
        ("Edamame", "appetizers", 5.0, "Steamed young soybeans tossed with sea salt", ["vegan", "gluten-free"]),
        ("Gyoza", "appetizers", 7.0, "Pan-fried pork and cabbage dumplings with a soy vinegar dip", []),
        ("Matcha Mochi", "desserts", 6.0, "Chewy rice cakes filled with green tea ice cream", ["vegetarian", "sweet"]),
    ],
    "indian": [
        (
            "Butter Chicken",
            "curries",
            15.5,
            "Tandoori chicken simmered in a creamy tomato, butter and fenugreek sauce",
            ["creamy", "gluten-free"],
        ),
        (
            "Chicken Tikka Masala",
            "curries",
            15.5,
            "Charred chicken tikka in a spiced onion and tomato cream sauce",
            ["creamy", "gluten-free"],
        ),
        (
            "Lamb Rogan Josh",
            "curries",
            18.0,
            "Slow-braised lamb in a Kashmiri chili and yogurt gravy",
            ["spicy", "gluten-free"],
        ),
        (
            "Palak Paneer",
            "curries",
            13.5,
            "Cottage cheese cubes in a smooth spiced spinach sauce",
            ["vegetarian", "gluten-free"],
        ),
        (
            "Chana Masala",
            "curries",
            12.0,
            "Chickpeas cooked with onion, tomato, ginger and garam masala",
            ["vegan", "gluten-free"],
        ),
        (
            "Dal Makhani",
            "curries",
            12.5,
            "Black lentils and kidney beans slow-cooked with butter and cream",
            ["vegetarian", "creamy"],
        ),
        (
            "Chicken Biryani",
            "rice",
            16.0,
            "Fragrant basmati rice layered with spiced chicken, saffron and fried onions",
            ["spicy"],
        ),
        (
            "Vegetable Samosa",
            "appetizers",
            6.0,
            "Crisp pastry filled with spiced potatoes and peas, with tamarind chutney",
            ["vegan"],
        ),
        (
            "Garlic Naan",
            "breads",
            4.0,
            "Tandoor-baked flatbread brushed with garlic butter and coriander",
            ["vegetarian"],
        ),
        (
            "Lamb Vindaloo",
            "curries",
            18.5,
            "Fiery Goan curry of lamb with vinegar, garlic and red chilies",
            ["spicy", "gluten-free"],
        ),
        ("Mango Lassi", "drinks", 5.0, "Chilled yogurt drink blended with Alphonso mango", ["vegetarian", "sweet"]),
        (
            "Gulab Jamun",
            "desserts",
            5.5,
            "Fried milk dumplings soaked in rose and cardamom syrup",
            ["vegetarian", "sweet"],
        ),
    ],
    "mexican": [
        (
            "Carne Asada Tacos",
            "tacos",
            12.0,
            "Three corn tortillas with grilled steak, onion, cilantro and salsa verde",
            ["gluten-free"],
        ),
        (
            "Al Pastor Tacos",
            "tacos",
            11.5,
            "Marinated pork with pineapple, onion and cilantro on corn tortillas",
            ["gluten-free"],
        ),
        ("Fish Tacos", "tacos", 12.5, "Beer-battered cod with cabbage slaw and chipotle crema", []),
        (
            "Chicken Burrito",
            "burritos",
            13.0,
            "Flour tortilla stuffed with chicken, rice, black beans, cheese and pico de gallo",
            [],
        ),
        (
            "Veggie Burrito Bowl",
            "bowls",
            12.0,
            "Cilantro lime rice, black beans, fajita vegetables, guacamole and salsa",
            ["vegan", "gluten-free"],
        ),
        (
            "Beef Enchiladas",
            "mains",
            14.5,
            "Corn tortillas rolled with beef, baked in red chili sauce and cheese",
            ["spicy"],
        ),
        (
            "Chicken Quesadilla",
            "mains",
            11.0,
            "Grilled flour tortilla with chicken, melted cheese, peppers and sour cream",
            [],
        ),
        (
            "Guacamole and Chips",
            "appetizers",
            8.0,
            "Hand-mashed avocado with lime, onion, jalapeno and tortilla chips",
            ["vegan", "gluten-free"],
        ),
        ("Elote", "sides", 5.5, "Grilled street corn with mayo, cotija cheese, chili powder and lime", ["vegetarian"]),
        (
            "Pozole Rojo",
            "soups",
            13.0,
            "Hominy and pork stew in a red guajillo chili broth with radish",
            ["spicy", "gluten-free"],
        ),
        (
            "Churros",
            "desserts",
            6.0,
            "Fried dough sticks rolled in cinnamon sugar with chocolate dip",
            ["vegetarian", "sweet"],
        ),
        ("Horchata", "drinks", 4.0, "Sweet rice milk drink with cinnamon and vanilla", ["vegan", "sweet"]),
    ],
    "chinese": [
        (
            "Kung Pao Chicken",
            "mains",
            14.0,
            "Wok-fried chicken with peanuts, dried chilies and Sichuan pepper",
            ["spicy"],
        ),
        (
            "Mapo Tofu",
            "mains",
            12.5,
            "Silken tofu in a fiery fermented bean and chili sauce with minced pork",
            ["spicy"],
        ),
        (
            "Sweet and Sour Pork",
            "mains",
            14.0,
            "Crispy pork with bell peppers and pineapple in a tangy glaze",
            ["sweet"],
        ),
        ("Beef and Broccoli", "mains", 15.0, "Sliced flank steak and broccoli stir-fried in oyster sauce", []),
        (
            "Vegetable Chow Mein",
            "noodles",
            11.0,
            "Stir-fried egg noodles with cabbage, carrot, bean sprouts and soy",
            ["vegetarian"],
        ),
        (
            "Dan Dan Noodles",
            "noodles",
            12.0,
            "Wheat noodles with spicy sesame chili oil, pork and preserved greens",
            ["spicy"],
        ),
        ("Yangzhou Fried Rice", "rice", 11.5, "Fried rice with shrimp, char siu pork, egg and scallions", []),
        ("Xiao Long Bao", "dim-sum", 9.5, "Steamed soup dumplings filled with pork and rich broth", []),
        ("Har Gow", "dim-sum", 8.5, "Translucent shrimp dumplings in a delicate wheat starch wrapper", []),
        (
            "Spring Rolls",
            "appetizers",
            6.5,
            "Crispy rolls of cabbage, carrot and glass noodles with sweet chili dip",
            ["vegan"],
        ),
        (
            "Hot and Sour Soup",
            "soups",
            6.0,
            "Peppery broth with tofu, bamboo shoots, mushrooms and egg ribbons",
            ["spicy", "vegetarian"],
        ),
        ("Peking Duck", "mains", 28.0, "Roast duck with crisp skin, thin pancakes, cucumber and hoisin", []),
    ],
    "thai": [
        ("Pad Thai", "noodles", 13.0, "Rice noodles stir-fried with shrimp, tofu, egg, peanuts and tamarind", []),
        (
            "Green Curry",
            "curries",
            14.0,
            "Coconut curry with green chili paste, Thai basil, bamboo and chicken",
            ["spicy", "gluten-free"],
        ),
        (
            "Massaman Curry",
            "curries",
            15.0,
            "Mild coconut curry with beef, potatoes, peanuts and cinnamon",
            ["gluten-free"],
        ),
        (
            "Tom Yum Goong",
            "soups",
            12.0,
            "Hot and sour lemongrass soup with shrimp, galangal and lime leaves",
            ["spicy", "gluten-free"],
        ),
        (
            "Tom Kha Gai",
            "soups",
            11.5,
            "Coconut milk soup with chicken, galangal and mushrooms",
            ["creamy", "gluten-free"],
        ),
        (
            "Som Tam",
            "salads",
            9.5,
            "Shredded green papaya salad with chili, lime, peanuts and fish sauce",
            ["spicy", "gluten-free"],
        ),
        ("Pad See Ew", "noodles", 13.0, "Wide rice noodles with Chinese broccoli, egg and dark soy sauce", []),
        (
            "Basil Chicken",
            "mains",
            13.5,
            "Minced chicken stir-fried with holy basil, chili and garlic over rice",
            ["spicy"],
        ),
        (
            "Mango Sticky Rice",
            "desserts",
            7.5,
            "Sweet coconut sticky rice with ripe mango slices",
            ["vegan", "sweet", "gluten-free"],
        ),
        (
            "Chicken Satay",
            "appetizers",
            9.0,
            "Grilled chicken skewers with peanut sauce and cucumber relish",
            ["gluten-free"],
        ),
        (
            "Panang Curry",
            "curries",
            14.5,
            "Thick red curry with coconut cream, kaffir lime and beef",
            ["spicy", "creamy"],
        ),
        ("Thai Iced Tea", "drinks", 4.5, "Strong black tea with condensed milk over ice", ["vegetarian", "sweet"]),
    ],
    "greek": [
        ("Chicken Souvlaki", "mains", 14.0, "Grilled chicken skewers with tzatziki, pita, tomato and onion", []),
        ("Lamb Gyro", "wraps", 12.5, "Shaved lamb in warm pita with tzatziki, tomato, onion and fries", []),
        ("Moussaka", "mains", 16.5, "Baked layers of eggplant, spiced beef and creamy bechamel", []),
        ("Spanakopita", "appetizers", 8.0, "Flaky phyllo pie filled with spinach, feta and dill", ["vegetarian"]),
        (
            "Greek Salad",
            "salads",
            10.5,
            "Tomato, cucumber, red onion, kalamata olives, feta and oregano",
            ["vegetarian", "gluten-free"],
        ),
        ("Hummus Plate", "appetizers", 8.5, "Chickpea hummus with olive oil, paprika and warm pita", ["vegan"]),
        ("Grilled Octopus", "mains", 19.0, "Charred octopus with lemon, olive oil and capers", ["gluten-free"]),
        ("Falafel Wrap", "wraps", 11.0, "Crispy chickpea falafel with tahini, pickles and salad in pita", ["vegan"]),
        ("Pastitsio", "pasta", 15.5, "Baked tubular pasta with spiced beef and a thick bechamel crust", []),
        (
            "Baklava",
            "desserts",
            6.0,
            "Layers of phyllo, walnuts and pistachios soaked in honey syrup",
            ["vegetarian", "sweet"],
        ),
        (
            "Loukoumades",
            "desserts",
            6.5,
            "Fried honey puffs with cinnamon and crushed walnuts",
            ["vegetarian", "sweet"],
        ),
        ("Avgolemono Soup", "soups", 7.5, "Chicken and rice soup thickened with egg and lemon", ["gluten-free"]),
    ],
    "american": [
        (
            "Classic Cheeseburger",
            "burgers",
            12.0,
            "Beef patty, cheddar, lettuce, tomato, pickles and house sauce on a brioche bun",
            [],
        ),
        (
            "Bacon BBQ Burger",
            "burgers",
            14.0,
            "Beef patty with smoked bacon, onion rings and barbecue sauce",
            ["smoky"],
        ),
        ("Mushroom Swiss Burger", "burgers", 13.5, "Beef patty with sauteed mushrooms and melted Swiss cheese", []),
        ("Beyond Burger", "burgers", 14.5, "Plant-based patty with vegan cheese, lettuce and tomato", ["vegan"]),
        (
            "Buffalo Wings",
            "appetizers",
            11.0,
            "Crispy chicken wings tossed in hot sauce with blue cheese dip",
            ["spicy", "gluten-free"],
        ),
        (
            "Mac and Cheese",
            "sides",
            7.5,
            "Elbow macaroni baked in a three-cheese sauce with breadcrumbs",
            ["vegetarian", "creamy"],
        ),
        ("Loaded Fries", "sides", 8.0, "Fries topped with cheddar, bacon bits, sour cream and scallions", []),
        (
            "Pulled Pork Sandwich",
            "sandwiches",
            13.0,
            "Slow-smoked pulled pork with coleslaw on a toasted bun",
            ["smoky"],
        ),
        ("Caesar Salad", "salads", 10.0, "Romaine, parmesan, garlic croutons and creamy Caesar dressing", []),
        ("Chicken Tenders", "mains", 11.5, "Buttermilk fried chicken strips with honey mustard", []),
        (
            "Chocolate Milkshake",
            "drinks",
            6.5,
            "Thick shake of chocolate ice cream and whole milk",
            ["vegetarian", "sweet"],
        ),
        (
            "New York Cheesecake",
            "desserts",
            7.5,
            "Dense vanilla cheesecake on a graham cracker crust",
            ["vegetarian", "sweet"],
        ),
    ],
    "korean": [
        ("Bibimbap", "bowls", 14.0, "Rice bowl with sauteed vegetables, beef, fried egg and gochujang", ["spicy"]),
        ("Bulgogi", "mains", 17.0, "Thinly sliced beef marinated in soy, pear and sesame, grilled", ["sweet"]),
        (
            "Korean Fried Chicken",
            "mains",
            16.0,
            "Double-fried chicken glazed in sweet and spicy gochujang sauce",
            ["spicy"],
        ),
        ("Kimchi Jjigae", "soups", 13.0, "Spicy kimchi stew with pork and tofu", ["spicy"]),
        (
            "Japchae",
            "noodles",
            12.5,
            "Sweet potato glass noodles stir-fried with vegetables and sesame oil",
            ["vegetarian"],
        ),
        (
            "Tteokbokki",
            "appetizers",
            10.0,
            "Chewy rice cakes in a sweet and fiery red chili sauce",
            ["spicy", "vegetarian"],
        ),
        ("Kimchi Pancake", "appetizers", 9.0, "Crispy pancake of fermented kimchi and scallions", ["vegetarian"]),
        ("Galbi", "mains", 24.0, "Grilled beef short ribs in a sweet soy marinade", []),
        ("Sundubu Jjigae", "soups", 13.5, "Soft tofu stew with seafood, egg and chili broth", ["spicy"]),
        ("Dakgangjeong", "appetizers", 11.0, "Crispy bite-size chicken in a sticky soy garlic glaze", ["sweet"]),
        (
            "Bingsu",
            "desserts",
            8.5,
            "Shaved milk ice with sweet red beans, fruit and condensed milk",
            ["vegetarian", "sweet"],
        ),
        ("Mandu", "appetizers", 8.0, "Steamed dumplings filled with pork, tofu and glass noodles", []),
    ],
    "lebanese": [
        (
            "Chicken Shawarma Plate",
            "mains",
            15.0,
            "Marinated chicken shawarma with garlic toum, pickles, rice and salad",
            ["gluten-free"],
        ),
        (
            "Beef Kafta",
            "mains",
            15.5,
            "Grilled skewers of minced beef with parsley, onion and seven spices",
            ["gluten-free"],
        ),
        ("Falafel Plate", "mains", 12.0, "Crispy falafel with tahini sauce, hummus and pickled turnips", ["vegan"]),
        (
            "Fattoush",
            "salads",
            9.5,
            "Crunchy salad of cucumber, tomato, radish, herbs, sumac and fried pita",
            ["vegan"],
        ),
        ("Tabbouleh", "salads", 9.0, "Finely chopped parsley, bulgur, tomato, mint and lemon", ["vegan"]),
        (
            "Baba Ghanoush",
            "appetizers",
            8.0,
            "Smoky roasted eggplant dip with tahini and pomegranate",
            ["vegan", "gluten-free", "smoky"],
        ),
        ("Kibbeh", "appetizers", 9.5, "Fried bulgur shells stuffed with spiced lamb and pine nuts", []),
        ("Manakish Zaatar", "breads", 6.0, "Flatbread baked with zaatar, sesame and olive oil", ["vegan"]),
        (
            "Lamb Shish Kebab",
            "mains",
            19.0,
            "Chunks of marinated lamb grilled with peppers and onions",
            ["gluten-free"],
        ),
        ("Lentil Soup", "soups", 6.5, "Red lentil soup with cumin and lemon", ["vegan", "gluten-free"]),
        (
            "Knafeh",
            "desserts",
            7.5,
            "Warm shredded pastry with sweet cheese and orange blossom syrup",
            ["vegetarian", "sweet"],
        ),
        ("Mint Lemonade", "drinks", 4.5, "Freshly squeezed lemons blended with mint and ice", ["vegan"]),
    ],
}

VARIANTS = [("", 1.0), ("Family Size ", 2.4), ("Lunch Special ", 0.8)]

GROCERS = [("st-freshmart", "FreshMart Grocery", 1.0), ("st-greenbasket", "Green Basket Organic", 1.3)]

# name, category, base price, description, tags, sizes
GROCERY = [
    (
        "Whole Milk",
        "dairy",
        3.49,
        "Pasteurized whole cow's milk, 3.25% fat",
        ["vegetarian", "gluten-free"],
        ["1 qt", "1/2 gal", "1 gal"],
    ),
    (
        "Greek Yogurt",
        "dairy",
        4.99,
        "Thick strained plain yogurt, high in protein",
        ["vegetarian", "gluten-free"],
        ["16 oz", "32 oz"],
    ),
    (
        "Sharp Cheddar Cheese",
        "dairy",
        5.49,
        "Aged cheddar block with a bold, tangy flavor",
        ["vegetarian", "gluten-free"],
        ["8 oz", "16 oz"],
    ),
    (
        "Free-Range Eggs",
        "dairy",
        4.29,
        "Large brown eggs from free-range hens",
        ["vegetarian", "gluten-free"],
        ["6 ct", "12 ct", "18 ct"],
    ),
    (
        "Unsalted Butter",
        "dairy",
        4.79,
        "Sweet cream butter made from pasteurized cream",
        ["vegetarian", "gluten-free"],
        ["8 oz", "16 oz"],
    ),
    (
        "Sourdough Bread",
        "bakery",
        5.99,
        "Naturally leavened loaf with a crisp crust and open crumb",
        ["vegan"],
        ["1 loaf"],
    ),
    (
        "Whole Wheat Bread",
        "bakery",
        3.99,
        "Sliced sandwich bread made with 100% whole wheat flour",
        ["vegan"],
        ["20 oz", "24 oz"],
    ),
    (
        "Croissants",
        "bakery",
        6.49,
        "All-butter laminated pastries, baked fresh daily",
        ["vegetarian"],
        ["4 ct", "6 ct"],
    ),
    ("Bananas", "produce", 0.69, "Ripe Cavendish bananas, sold per pound", ["vegan", "gluten-free"], ["1 lb", "3 lb"]),
    (
        "Hass Avocados",
        "produce",
        1.99,
        "Creamy ripe avocados, great for guacamole",
        ["vegan", "gluten-free"],
        ["1 ct", "4 ct bag"],
    ),
    (
        "Baby Spinach",
        "produce",
        3.99,
        "Triple-washed tender spinach leaves",
        ["vegan", "gluten-free"],
        ["5 oz", "10 oz"],
    ),
    (
        "Roma Tomatoes",
        "produce",
        1.79,
        "Firm plum tomatoes for sauces and salads",
        ["vegan", "gluten-free"],
        ["1 lb", "2 lb"],
    ),
    (
        "Honeycrisp Apples",
        "produce",
        2.49,
        "Crisp, juicy and sweet apples",
        ["vegan", "gluten-free"],
        ["1 lb", "3 lb bag"],
    ),
    ("Strawberries", "produce", 4.49, "Sweet red strawberries", ["vegan", "gluten-free"], ["1 lb", "2 lb"]),
    ("Yellow Onions", "produce", 1.29, "All-purpose cooking onions", ["vegan", "gluten-free"], ["3 lb bag"]),
    (
        "Chicken Breast",
        "meat",
        7.99,
        "Boneless skinless chicken breast, air-chilled",
        ["gluten-free"],
        ["1 lb", "2.5 lb"],
    ),
    ("Ground Beef 85/15", "meat", 6.49, "Fresh ground chuck, 85% lean", ["gluten-free"], ["1 lb", "3 lb"]),
    ("Atlantic Salmon Fillet", "seafood", 11.99, "Fresh farm-raised salmon fillet, skin on", ["gluten-free"], ["1 lb"]),
    ("Jumbo Shrimp", "seafood", 12.99, "Peeled and deveined shrimp, frozen", ["gluten-free"], ["1 lb", "2 lb"]),
    ("Firm Tofu", "protein", 2.79, "Organic firm tofu made from non-GMO soybeans", ["vegan", "gluten-free"], ["14 oz"]),
    (
        "Basmati Rice",
        "pantry",
        6.99,
        "Aged long-grain aromatic rice from India",
        ["vegan", "gluten-free"],
        ["2 lb", "10 lb"],
    ),
    ("Spaghetti", "pantry", 1.99, "Durum wheat semolina pasta", ["vegan"], ["16 oz"]),
    (
        "Extra Virgin Olive Oil",
        "pantry",
        9.99,
        "Cold-pressed olive oil with a fruity, peppery finish",
        ["vegan", "gluten-free"],
        ["500 ml", "1 l"],
    ),
    (
        "Marinara Sauce",
        "pantry",
        4.49,
        "Tomato sauce with garlic, onion and basil",
        ["vegan", "gluten-free"],
        ["24 oz"],
    ),
    ("Canned Chickpeas", "pantry", 1.49, "Garbanzo beans in water, ready to use", ["vegan", "gluten-free"], ["15 oz"]),
    ("Coconut Milk", "pantry", 2.49, "Unsweetened full-fat coconut milk", ["vegan", "gluten-free"], ["13.5 oz"]),
    (
        "Peanut Butter",
        "pantry",
        3.99,
        "Creamy peanut butter made from roasted peanuts",
        ["vegan", "gluten-free"],
        ["16 oz", "40 oz"],
    ),
    ("Rolled Oats", "breakfast", 4.29, "Old-fashioned whole grain rolled oats", ["vegan"], ["18 oz", "42 oz"]),
    ("Granola", "breakfast", 5.49, "Crunchy oat clusters with honey and almonds", ["vegetarian"], ["12 oz"]),
    (
        "Orange Juice",
        "beverages",
        4.99,
        "Not-from-concentrate orange juice, no pulp",
        ["vegan", "gluten-free"],
        ["52 oz", "89 oz"],
    ),
    (
        "Sparkling Water",
        "beverages",
        5.99,
        "Lime-flavored sparkling water, unsweetened",
        ["vegan", "gluten-free"],
        ["8 pack", "12 pack"],
    ),
    (
        "Ground Coffee",
        "beverages",
        8.99,
        "Medium roast Colombian ground coffee",
        ["vegan", "gluten-free"],
        ["12 oz", "24 oz"],
    ),
    ("Dark Chocolate Bar", "snacks", 3.49, "72% cacao dark chocolate", ["vegan", "gluten-free", "sweet"], ["3.5 oz"]),
    (
        "Tortilla Chips",
        "snacks",
        3.99,
        "Stone-ground white corn tortilla chips, lightly salted",
        ["vegan", "gluten-free"],
        ["11 oz"],
    ),
    ("Frozen Pepperoni Pizza", "frozen", 6.99, "Thin-crust pizza with pepperoni and mozzarella", [], ["1 ct"]),
    (
        "Vanilla Ice Cream",
        "frozen",
        5.49,
        "Premium vanilla bean ice cream",
        ["vegetarian", "gluten-free", "sweet"],
        ["1 pt", "1.5 qt"],
    ),
]

BRANDS = {"st-freshmart": ["FreshMart", "Harvest Farms"], "st-greenbasket": ["Green Basket", "Wild Meadow Organic"]}


def _price(value: float) -> float:
    return round(max(0.5, value), 2)


def generate() -> list[dict]:
    rng = random.Random(SEED)
    items: list[dict] = []
    for store_id, store_name, cuisine, mult in RESTAURANTS:
        for i, (name, category, base, desc, tags) in enumerate(DISHES[cuisine]):
            for j, (prefix, vmult) in enumerate(VARIANTS):
                if j > 0 and rng.random() < 0.35:
                    continue  # not every dish comes in every variant
                jitter = rng.uniform(0.95, 1.05)
                items.append(
                    {
                        "item_id": f"{store_id}-{i:02d}{'abc'[j]}",
                        "store_id": store_id,
                        "name": f"{prefix}{name}",
                        "description": desc
                        + (" Serves 3 to 4." if j == 1 else " Available until 3 pm." if j == 2 else ""),
                        "category": category,
                        "cuisine": cuisine,
                        "price": _price(base * mult * vmult * jitter),
                        "currency": "USD",
                        "tags": list(tags),
                        "attributes": {"store_name": store_name},
                        "available": rng.random() > 0.03,
                    }
                )
    for store_id, store_name, mult in GROCERS:
        for i, (name, category, base, desc, tags, sizes) in enumerate(GROCERY):
            for b, brand in enumerate(BRANDS[store_id]):
                for s, size in enumerate(sizes):
                    items.append(
                        {
                            "item_id": f"{store_id}-{i:02d}{b}{s}",
                            "store_id": store_id,
                            "name": f"{brand} {name}, {size}",
                            "description": desc,
                            "category": category,
                            "cuisine": "grocery",
                            "price": _price(base * mult * (1 + 0.6 * s) * rng.uniform(0.9, 1.1)),
                            "currency": "USD",
                            "tags": list(tags),
                            "attributes": {"store_name": store_name, "brand": brand, "size": size},
                            "available": True,
                        }
                    )
    return items


def render() -> str:
    return "".join(json.dumps(item, sort_keys=True) + "\n" for item in generate())


# -- the tag use case's golden datasets ------------------------------------------------

# category -> dish_type (deploy/enricher/taxonomy.yaml); None: no value of the taxonomy fits
DISH_TYPE = {
    "appetizers": "appetizer", "bakery": "bakery", "beverages": "beverage", "bowls": "bowl", "breads": "bakery",
    "breakfast": "breakfast", "burgers": "burger", "burritos": "main", "curries": "curry", "dairy": "dairy",
    "desserts": "dessert", "dim-sum": "appetizer", "drinks": "beverage", "frozen": "frozen", "mains": "main",
    "meat": "meat", "noodles": "noodles", "pantry": "pantry", "pasta": "pasta", "pizza": "pizza",
    "produce": "produce", "protein": None, "rice": "rice", "risotto": None, "salads": "salad",
    "sandwiches": "sandwich", "seafood": "seafood", "sides": "side", "snacks": "snack", "soups": "soup",
    "sushi": "sushi", "tacos": "taco", "wraps": "sandwich",
}  # fmt: skip
DIETARY = {"vegetarian": "vegetarian", "vegan": "vegan", "gluten-free": "gluten_free"}
FLAVOUR = {"spicy", "sweet", "creamy", "smoky"}
# allergen -> words that name an ingredient carrying it (whole words of the name and description)
ALLERGEN_WORDS = {
    "gluten": {"pasta", "spaghetti", "penne", "fettuccine", "lasagna", "ramen", "udon", "bread", "naan", "pita",
               "flatbread", "pizza", "crust", "bun", "breaded", "battered", "tempura", "flour", "wheat", "bulgur",
               "pastry", "pastries", "phyllo", "croissants", "sourdough", "semolina", "durum", "croutons",
               "pancakes", "cake", "cheesecake", "cookies", "brownie", "dumplings", "gyoza", "mandu"},
    "dairy": {"cheese", "mozzarella", "parmesan", "pecorino", "cheddar", "feta", "gorgonzola", "fontina", "swiss",
              "butter", "cream", "milk", "yogurt", "bechamel", "alfredo", "tzatziki", "paneer", "ghee", "buttermilk",
              "ice", "cheesecake", "mascarpone", "ricotta", "queso"},
    "egg": {"egg", "eggs", "yolk", "mayo", "mayonnaise", "carbonara", "omelette", "aioli"},
    "peanut": {"peanut", "peanuts", "satay"},
    "tree_nut": {"almonds", "almond", "walnuts", "cashews", "pistachio", "pistachios", "pecans", "hazelnuts",
                 "pine"},
    "soy": {"soy", "tofu", "edamame", "miso", "soybeans", "soybean", "teriyaki"},
    "fish": {"salmon", "tuna", "fish", "anchovy", "anchovies", "cod", "tilapia", "bonito", "sashimi"},
    "shellfish": {"shrimp", "prawn", "prawns", "crab", "lobster", "octopus", "squid", "clams", "mussels",
                  "scallops", "har"},
    "sesame": {"sesame", "tahini", "zaatar"},
}  # fmt: skip
GOLDEN_SHARE = 0.4


def _base_name(item: dict) -> str:
    name = item["name"]
    for prefix, _ in VARIANTS:
        if prefix and name.startswith(prefix):
            name = name[len(prefix) :]
    if item["cuisine"] == "grocery":  # "<brand> <product>, <size>"
        name = name.rsplit(", ", 1)[0]
        for brand in BRANDS[item["store_id"]]:
            name = name.removeprefix(brand + " ")
    return name


def labels(item: dict) -> dict:
    """What the generator knows of an item, in the taxonomy's values."""
    tags = set(item["tags"])
    words = set(re.findall(r"[a-z]+", f"{item['name']} {item['description']}".lower()))
    allergens = sorted(a for a, ws in ALLERGEN_WORDS.items() if words & ws)
    if "gluten-free" in tags:
        allergens = [a for a in allergens if a != "gluten"]
    if "vegan" in tags:
        allergens = [a for a in allergens if a not in ("dairy", "egg", "fish", "shellfish")]
    out: dict = {"cuisine": "none" if item["cuisine"] == "grocery" else item["cuisine"]}
    if DISH_TYPE[item["category"]]:
        out["dish_type"] = DISH_TYPE[item["category"]]
    out["dietary"] = sorted(DIETARY[t] for t in tags if t in DIETARY)
    out["allergens"] = allergens[:3]
    if tags & FLAVOUR:
        out["flavour"] = sorted(tags & FLAVOUR)
    return out


def golden_rows() -> tuple[list[dict], list[dict]]:
    """(golden, train): every sample item with its labels, split by dish."""
    golden, train = [], []
    for item in generate():
        row = {
            "id": item["item_id"],
            "item": {k: item[k] for k in ("item_id", "store_id", "name", "description", "price", "currency")}
            | {"attributes": {"store_name": item["attributes"]["store_name"]}},
            "expected": labels(item),
            "source": "deploy/catalog/generate.py (Ladle's sample catalog; labels from the generator)",
        }
        dish = f"{item['cuisine']}/{_base_name(item)}"
        bucket = int(hashlib.sha256(dish.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (golden if bucket < GOLDEN_SHARE else train).append(row)
    # A fixed shuffle, so the first N rows (`--limit`, a gate's `limit`) are a fair sample of all stores.
    rng = random.Random(SEED)
    rng.shuffle(golden)
    rng.shuffle(train)
    return golden, train


def render_golden() -> dict[str, str]:
    golden, train = golden_rows()
    return {name: "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
            for name, rows in (("tag.jsonl", golden), ("tag-train.jsonl", train))}  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--golden":
        for name, text in render_golden().items():
            (Path(sys.argv[2]) / name).write_text(text)
    else:
        sys.stdout.write(render())
