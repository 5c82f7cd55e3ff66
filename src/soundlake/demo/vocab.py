"""Value domains and weights shared by the synthetic generator and the change simulator.

The domains are those of the tutorial data (README.md, "Source database"); the weights are plausible
shares for a global streaming service, not measured figures.
"""

from __future__ import annotations

import numpy as np

PLANS = ("Free", "Premium", "Family")
PLAN_WEIGHTS = (0.55, 0.33, 0.12)

GENRES = ("Pop", "Hip-Hop", "Jazz", "Electronic", "Rock", "Classical")
GENRE_WEIGHTS = (0.32, 0.25, 0.06, 0.15, 0.15, 0.07)

DEVICES = ("Mobile", "Desktop", "Smart Speaker")
DEVICE_WEIGHTS = (0.62, 0.25, 0.13)

COUNTRIES = (
    "United States", "Brazil", "United Kingdom", "Germany", "Mexico", "India", "France",
    "Indonesia", "Canada", "Spain", "Philippines", "Argentina", "Italy", "Japan",
    "Australia", "Poland", "Netherlands", "Sweden", "Nigeria", "South Korea", "Turkey",
    "Chile", "Colombia", "South Africa",
)
USER_COUNTRY_WEIGHTS = (
    0.20, 0.08, 0.07, 0.07, 0.06, 0.06, 0.05, 0.05, 0.04, 0.04, 0.035, 0.03, 0.03, 0.03,
    0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02, 0.015, 0.015, 0.015,
)
ARTIST_COUNTRY_WEIGHTS = (
    0.34, 0.06, 0.14, 0.06, 0.04, 0.03, 0.04, 0.02, 0.05, 0.03, 0.01, 0.02, 0.02, 0.03,
    0.03, 0.01, 0.01, 0.04, 0.03, 0.04, 0.01, 0.01, 0.02, 0.01,
)

# Listening rhythm: relative plays by hour of day (0..23) and by weekday (Monday..Sunday).
HOUR_WEIGHTS = (
    1.2, 0.8, 0.5, 0.35, 0.3, 0.45, 1.2, 2.6, 3.6, 3.2, 2.8, 2.9,
    3.4, 3.3, 3.0, 3.1, 3.6, 4.2, 4.6, 4.8, 4.6, 4.0, 3.1, 2.0,
)
WEEKDAY_WEIGHTS = (0.92, 0.94, 0.97, 1.0, 1.16, 1.18, 0.95)
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Sandra",
    "Mark", "Ashley", "Lucas", "Emily", "Mateo", "Sofia", "Ana", "Yuki", "Hiroshi", "Priya",
    "Arjun", "Chloe", "Lena", "Jonas", "Amara", "Chinedu", "Ines", "Diego", "Maja", "Oskar",
    "Fatima", "Omar", "Min-jun", "Seo-yeon", "Giulia", "Marco", "Zofia", "Pierre", "Camille",
    "Noah", "Olivia", "Liam", "Emma", "Ava",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Silva",
    "Santos", "Muller", "Schmidt", "Kowalski", "Nowak", "Rossi", "Bianchi", "Dubois",
    "Moreau", "Tanaka", "Suzuki", "Kim", "Park", "Sharma", "Patel", "Okafor", "Adeyemi",
    "Andersson", "Johansson", "de Vries", "Jansen", "Fernandez", "Costa", "Yilmaz", "Kaya",
    "Nguyen", "Reyes", "Cruz", "Khan", "O'Brien", "Murphy", "Walker", "Young", "King", "Wright",
)
ADJECTIVES = (
    "Blue", "Golden", "Midnight", "Electric", "Silent", "Wild", "Broken", "Neon", "Velvet",
    "Crimson", "Lost", "Endless", "Hollow", "Bright", "Savage", "Gentle", "Frozen", "Burning",
    "Crystal", "Distant", "Sweet", "Dark", "Lonely", "Restless", "Sacred", "Paper", "Silver",
    "Summer", "Winter", "Northern",
)
NOUNS = (
    "Heart", "Sky", "River", "Fire", "Dream", "Road", "Night", "Light", "Storm", "Ocean",
    "City", "Moon", "Echo", "Shadow", "Garden", "Horizon", "Signal", "Mirror", "Parade",
    "Machine", "Kingdom", "Rain", "Wave", "Flame", "Desert", "Island", "Satellite", "Letter",
    "Engine", "Season",
)
PLURALS = (
    "Wolves", "Lions", "Strangers", "Ghosts", "Kids", "Lovers", "Rebels", "Saints",
    "Machines", "Travelers", "Dreamers", "Foxes", "Pilots", "Sparrows", "Tigers", "Waves",
)
TRACK_SUFFIXES = (" - Remix", " - Live", " - Acoustic", " - Radio Edit", "")
ALBUM_WORDS = ("Chapter", "Vol.", "Sessions", "Tapes", "Stories", "Diaries", "Collection")


def pick(rng: np.random.Generator, values: tuple[str, ...], weights: tuple[float, ...] | None, n: int) -> np.ndarray:
    """Draw ``n`` values (a numpy string array) with optional relative ``weights``."""
    p = None if weights is None else np.asarray(weights, dtype=float) / float(np.sum(weights))
    return np.asarray(values)[rng.choice(len(values), size=n, p=p)]


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` person names such as ``"Ana Silva"``."""
    first = pick(rng, FIRST_NAMES, None, n)
    last = pick(rng, LAST_NAMES, None, n)
    return np.char.add(np.char.add(first, " "), last)


def artist_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` artist names: band names (``"The Neon Wolves"``) and person names."""
    band = np.char.add(np.char.add(np.char.add("The ", pick(rng, ADJECTIVES, None, n)), " "),
                       pick(rng, PLURALS, None, n))
    person = person_names(rng, n)
    return np.where(rng.random(n) < 0.5, band, person)


def track_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` track names; some carry hyphens (silver replaces them with spaces)."""
    base = np.char.add(np.char.add(pick(rng, ADJECTIVES, None, n), " "), pick(rng, NOUNS, None, n))
    suffix = pick(rng, TRACK_SUFFIXES, (0.05, 0.04, 0.03, 0.03, 0.85), n)
    return np.char.add(base, suffix)
