"""Russian vocabulary for believable names, addresses and tax numbers.

Real ERP exports are full of Cyrillic, quotes, commas and ``№`` signs; the demo uses them
on purpose so that the file reader is exercised on the text it will meet. Every word here
is encodable in Windows-1251 (the 1C export encoding) — ``tests/test_generate.py`` checks it.
"""

from __future__ import annotations

import numpy as np

# territory -> (INN region code, towns)
TERRITORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "Москва Север": ("77", ("г. Москва",)),
    "Москва Юг": ("77", ("г. Москва",)),
    "Подмосковье Запад": ("50", ("г. Одинцово", "г. Красногорск", "г. Истра")),
    "Подмосковье Восток": ("50", ("г. Балашиха", "г. Ногинск", "г. Электросталь")),
    "Тула": ("71", ("г. Тула", "г. Новомосковск")),
    "Калуга": ("40", ("г. Калуга", "г. Обнинск")),
}

STREETS = (
    "ул. Ленина", "ул. Советская", "ул. Мира", "ул. Гагарина", "ул. Садовая", "ул. Школьная",
    "ул. Лесная", "ул. Молодёжная", "ул. Центральная", "Набережная ул.", "ул. Заводская",
    "ул. Пушкина", "ул. Кирова", "пр-т Победы", "ул. Строителей", "Октябрьская ул.",
    "ул. Чехова", "ул. Полевая", "Рабочая ул.", "ш. Энтузиастов",
)

ADJECTIVES = (
    "Северный", "Южный", "Золотой", "Добрый", "Свежий", "Волжский", "Уральский", "Столичный",
    "Русский", "Домашний", "Вкусный", "Зелёный", "Солнечный", "Светлый", "Старый", "Новый",
)
NOUNS = (
    "двор", "берег", "край", "дом", "ряд", "рынок", "урожай", "город", "погребок", "амбар",
    "остров", "квартал", "колос", "самовар", "терем", "купец",
)

SURNAMES = (
    "Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев",
)
MALE_NAMES = ("Сергей", "Андрей", "Дмитрий", "Алексей", "Максим", "Иван", "Павел", "Николай",
              "Олег", "Артём", "Игорь", "Виктор")
FEMALE_NAMES = ("Анна", "Елена", "Ольга", "Мария", "Наталья", "Татьяна", "Ирина", "Юлия",
                "Светлана", "Екатерина")
# patronymic stems: + "ич" (male) / + "на" (female)
PATRONYMICS = ("Сергеев", "Андреев", "Дмитриев", "Алексеев", "Иванов", "Павлов", "Николаев",
               "Викторов", "Михайлов", "Петров")

# category -> (brands, product lines). 40 SKUs in all.
CATALOGUE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Чай": (("Чайный мастер", "Горный лист"), (
        "Чай чёрный листовой 100 г", "Чай чёрный 25 пак.", "Чай зелёный 25 пак.",
        "Чай травяной 20 пак.", "Чай чёрный 100 пак.", "Чай зелёный листовой 100 г",
        "Чай фруктовый 20 пак.")),
    "Кофе": (("Кофейня на углу", "Арабика Плюс"), (
        "Кофе молотый 250 г", "Кофе в зёрнах 1 кг", "Кофе растворимый 95 г",
        "Кофе растворимый 190 г", "Кофе в зёрнах 500 г", "Кофе 3в1, 10 шт.")),
    "Кондитерские изделия": (("Сладкий край", "Кондитер Петров", "Мишкин лес"), (
        "Печенье сахарное 300 г", "Вафли 200 г", "Пряники 400 г", "Конфеты шоколадные 1 кг",
        "Шоколад молочный 90 г", "Зефир 250 г", "Мармелад 300 г")),
    "Бакалея": (("Хозяюшка", "Поле да нива"), (
        "Макароны 450 г", "Рис 900 г", "Гречка 900 г", "Сахар 1 кг", "Мука 2 кг",
        "Масло подсолнечное 1 л", "Соль 1 кг")),
    "Напитки": (("Родник", "Сады Кубани"), (
        "Вода питьевая 1,5 л", "Сок яблочный 1 л", "Морс клюквенный 1 л", "Лимонад 0,5 л",
        "Квас 1,5 л", "Сок томатный 1 л")),
    "Снеки": (("Хрустим", "Ореховый двор"), (
        "Чипсы 140 г", "Сухарики 100 г", "Орехи 150 г", "Семечки 200 г", "Крекер 180 г",
        "Попкорн 100 г", "Батончик злаковый 40 г")),
}

POINT_KINDS = {
    "retail": ("Магазин", "Минимаркет", "Продукты"),
    "horeca": ("Кафе", "Ресторан", "Столовая", "Кофейня"),
    "wholesale": ("Склад", "Оптовая база"),
    "chain": ("Магазин",),
}


def pick(rng: np.random.Generator, words: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(words, dtype=object)[rng.integers(0, len(words), n)]


def trade_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """``Северный двор``-style shop signs."""
    return pick(rng, ADJECTIVES, n) + " " + pick(rng, NOUNS, n)


def company_names(rng: np.random.Generator, signs: np.ndarray, sole_trader: np.ndarray) -> np.ndarray:
    """``ООО "Северный двор"`` for companies, ``ИП Петров А.С.`` for sole traders."""
    n = len(signs)
    company = pick(rng, ("ООО", "ООО", "ООО", "АО"), n) + ' "' + signs + '"'
    trader = ("ИП " + pick(rng, SURNAMES, n) + " " + pick(rng, tuple(m[0] for m in MALE_NAMES), n)
              + "." + pick(rng, tuple(p[0] for p in PATRONYMICS), n) + ".")
    return np.where(sole_trader, trader, company)


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct full names (surname, name, patronymic) for the staff list."""
    out: list[str] = []
    while len(out) < n:
        female = rng.random() < 0.4
        surname = SURNAMES[rng.integers(len(SURNAMES))] + ("а" if female else "")
        pool = FEMALE_NAMES if female else MALE_NAMES
        first = pool[rng.integers(len(pool))]
        patronymic = PATRONYMICS[rng.integers(len(PATRONYMICS))] + ("на" if female else "ич")
        name = f"{surname} {first} {patronymic}"
        if name not in out:
            out.append(name)
    return out


def addresses(rng: np.random.Generator, territories: np.ndarray) -> np.ndarray:
    """``г. Тула, ул. Ленина, д. 12`` — commas included, as addresses really are."""
    towns = np.array([TERRITORIES[t][1][rng.integers(len(TERRITORIES[t][1]))] for t in territories],
                     dtype=object)
    house = rng.integers(1, 120, len(territories)).astype(str)
    return towns + ", " + pick(rng, STREETS, len(territories)) + ", д. " + house.astype(object)


def _inn_digits(rng: np.random.Generator, region: str, length: int) -> str:
    body = [int(c) for c in region] + list(rng.integers(0, 10, length - 2 - (1 if length == 10 else 2)))
    if length == 10:
        weights = (2, 4, 10, 3, 5, 9, 4, 6, 8)
        body.append(sum(w * d for w, d in zip(weights, body, strict=True)) % 11 % 10)
    else:
        for weights in ((7, 2, 4, 10, 3, 5, 9, 4, 6, 8), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)):
            body.append(sum(w * d for w, d in zip(weights, body, strict=True)) % 11 % 10)
    return "".join(str(int(d)) for d in body)


def inns(rng: np.random.Generator, territories: np.ndarray, sole_trader: np.ndarray) -> list[str]:
    """Tax numbers with valid check digits: 10 digits for companies, 12 for sole traders."""
    return [_inn_digits(rng, TERRITORIES[t][0], 12 if st else 10)
            for t, st in zip(territories, sole_trader, strict=True)]
