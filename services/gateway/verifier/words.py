"""The verifier's English word lists for normalisation (textnorm): what a question may say
differently without asking something else (contractions, UK/US spellings, fillers, greetings,
aliases), and the words that carry quantities, dates and negation.

Written as compact strings ("a=b c=d", "x y z", "phrase one|phrase two"), parsed at import. They
are generic English, not tied to any one business; the guards' own lists are in ``lexicon``.
"""

from __future__ import annotations


def _words(spec: str) -> frozenset[str]:
    return frozenset(spec.split())


def _mapping(spec: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in spec.split())


def _phrases(spec: str) -> tuple[tuple[str, ...], ...]:
    """Phrases separated by "|", longest first (the longest lead-in is stripped first)."""
    return tuple(sorted((tuple(p.split()) for p in spec.split("|") if p.strip()), key=len, reverse=True))


def _tuples(spec: str) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v.split("+")) for k, v in _mapping(spec).items()}


def _ints(spec: str) -> dict[str, int]:
    return {k: int(v) for k, v in _mapping(spec).items()}


def _units(spec: str) -> dict[str, tuple[str, float]]:
    out = {}
    for k, v in _mapping(spec).items():
        unit, factor = v.split("*")
        out[k.replace("_", " ")] = (unit, float(factor))
    return out


# can't -> can not; a "+" joins the words a contraction stands for
CONTRACTIONS: dict[str, tuple[str, ...]] = _tuples(
    "can't=can+not cant=can+not cannot=can+not won't=will+not shan't=shall+not ain't=is+not dont=do+not "
    "doesnt=does+not didnt=did+not isnt=is+not arent=are+not wasnt=was+not werent=were+not "
    "havent=have+not hasnt=has+not hadnt=had+not wouldnt=would+not couldnt=could+not shouldnt=should+not "
    "mustnt=must+not whats=what+is wheres=where+is whens=when+is whos=who+is hows=how+is thats=that+is "
    "theres=there+is im=i+am ive=i+have id=i+would youre=you+are let's=let+us it's=it+is he's=he+is "
    "she's=she+is what's=what+is where's=where+is when's=when+is who's=who+is how's=how+is that's=that+is "
    "there's=there+is here's=here+is why's=why+is which's=which+is"
)

SUFFIX_CONTRACTIONS = {"n't": "not", "'re": "are", "'ve": "have", "'ll": "will", "'d": "would", "'m": "am"}

# UK -> US spellings that no rule in us_spelling covers (the rules: -our, -ise/-yse, -tre, -elled)
SPELLINGS: dict[str, str] = _mapping(
    "programme=program programmes=programs catalogue=catalog dialogue=dialog licence=license "
    "licences=licenses defence=defense offence=offense pretence=pretense cheque=check cheques=checks "
    "grey=gray tyre=tire tyres=tires aeroplane=airplane aeroplanes=airplanes jewellery=jewelry "
    "pyjamas=pajamas plough=plow kerb=curb mum=mom enrol=enroll enrolment=enrollment fulfil=fulfill "
    "instalment=installment instal=install storey=story aluminium=aluminum mould=mold moustache=mustache "
    "cosy=cozy sceptical=skeptical manoeuvre=maneuver paediatric=pediatric anaesthetic=anesthetic "
    "oestrogen=estrogen haemorrhage=hemorrhage diarrhoea=diarrhea foetus=fetus judgement=judgment "
    "ageing=aging artefact=artifact doughnut=donut draught=draft gaol=jail learnt=learned spelt=spelled "
    "burnt=burned dreamt=dreamed whilst=while amongst=among towards=toward afterwards=afterward "
    "e-mail=email wifi=wi-fi okay=ok colour=color"
)

OUR_KEEP = _words(
    "contour contours detour detours devour dour flour four hour hours our ours pour pours scour sour "
    "tour tours velour your yours"
)

NUMBER_WORDS: dict[str, int] = _ints(
    "zero=0 one=1 two=2 three=3 four=4 five=5 six=6 seven=7 eight=8 nine=9 ten=10 eleven=11 twelve=12 "
    "thirteen=13 fourteen=14 fifteen=15 sixteen=16 seventeen=17 eighteen=18 nineteen=19 twenty=20 "
    "thirty=30 forty=40 fifty=50 sixty=60 seventy=70 eighty=80 ninety=90 dozen=12 twice=2"
)

SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}

ORDINAL_WORDS: dict[str, int] = _ints(
    "first=1 second=2 third=3 fourth=4 fifth=5 sixth=6 seventh=7 eighth=8 ninth=9 tenth=10 eleventh=11 "
    "twelfth=12 thirteenth=13 fourteenth=14 fifteenth=15 twentieth=20 thirtieth=30"
)

# a number right before one of these is converted: value * factor, in the base unit ("2 weeks" = 14 day)
UNITS: dict[str, tuple[str, float]] = _units(
    "day=day*1 days=day*1 week=day*7 weeks=day*7 fortnight=day*14 fortnights=day*14 hour=hour*1 "
    "hours=hour*1 hr=hour*1 hrs=hour*1 minute=minute*1 minutes=minute*1 min=minute*1 mins=minute*1 "
    "kg=kg*1 kilo=kg*1 kilos=kg*1 kilogram=kg*1 kilograms=kg*1 g=g*1 gram=g*1 grams=g*1 gb=gb*1 mb=mb*1 "
    "tb=tb*1 percent=%*1 per_cent=%*1 %=%*1 pounds=gbp*1 pound=gbp*1 quid=gbp*1 dollars=usd*1 "
    "dollar=usd*1 euros=eur*1 euro=eur*1 year=year*1 years=year*1 month=month*1 months=month*1 km=km*1 "
    "miles=mile*1 mile=mile*1 kwh=kwh*1"
)

CURRENCY_SYMBOLS = {"£": "gbp", "$": "usd", "€": "eur"}

WEEKDAYS = _words("friday monday saturday sunday thursday tuesday wednesday")

MONTHS = _words("april august december february january july june march may november october september")

MONTH_ABBR = _mapping(
    "jan=january feb=february mar=march apr=april jun=june jul=july aug=august sep=september "
    "sept=september oct=october nov=november dec=december mon=monday tue=tuesday tues=tuesday "
    "wed=wednesday thu=thursday thur=thursday thurs=thursday fri=friday sat=saturday sun=sunday"
)

RELATIVE_DAYS = _mapping(
    "today=today tonight=today tomorrow=tomorrow yesterday=yesterday weekend=weekend weekends=weekend "
    "weekday=weekday weekdays=weekday christmas=christmas xmas=christmas easter=easter summer=summer "
    "winter=winter autumn=autumn thanksgiving=thanksgiving halloween=halloween ramadan=ramadan diwali=diwali "
    "hanukkah=hanukkah eid=eid"
)

PERIOD_WORDS = _words("month quarter semester term week weekend year")

MERIDIEM = _mapping(
    "am=am a.m.=am morning=am midnight=am pm=pm p.m.=pm afternoon=pm evening=pm tonight=pm noon=pm midday=pm"
)

# spoken-style fillers dropped anywhere; "like" and "so" only where they are fillers (see _drop_fillers)
FILLERS = _words("actually ah basically eh er erm hmm uh uhh uhm um umm")

# greetings, thanks and polite lead-ins stripped from either end (longest match first)
LEAD_INS = _phrases(
    "sorry to bother you but|could you please tell me|can you please tell me|i would like to know|i would "
    "like to ask|could you let me know|can you let me know|sorry to bother you|i was just wondering|could "
    "you tell me|can you tell me|i want to know|i need to know|please let me know|a quick question|i was "
    "wondering|i am wondering|please tell me|do you know|may i ask|can i ask|let me know|hi there|hello "
    "there|hey there|hi team|hello team|hi all|hello all|hey team|hi everyone|hello everyone|good "
    "morning|good afternoon|good evening|dear team|dear sir|quick question|excuse me|ok so|just "
    "wondering|tell me|one "
    "question|hi|hello|hey|hiya|sorry|so|well|ok|okay|right|yes|yeah|please|question"
)

TAILS = _phrases(
    "thank you in advance|thank you very much|please and thank you|thanks in advance|thanks a lot|thanks "
    "so much|thanks very much|cheers in advance|if you can|thank you|many thanks|much appreciated|thanks "
    "again|if possible|thanks|cheers|please|thx|ty|appreciated|pls|ta"
)

# function words: a pair whose only differences are these asks the same question
FUNCTION_WORDS = _words(
    "a able about actually allowed also am an and any anyway are as at be been being best by can could "
    "currently did do does exactly find for from generally get go got had has have here i if in is it "
    "just know like may me might must need normally of ok okay on or out please possible really shall "
    "should so some still tell that the then there these this to typically up us usually want was way we "
    "were will with would"
)

# tokens too generic to stand for an answer change on their own (Parsed.content drops them)
STOPWORDS = FUNCTION_WORDS | _words(
    "he her him his how its my no not one our s she their them they what when where which who whose why you your"
)

NEGATORS = _words(
    "avoid avoided avoiding lack lacking miss missed missing neither never no nobody non none nor not "
    "nothing prevent without"
)
# "X free" after a noun ("sugar free", "gluten-free") is a negation too: see negations()

# names written differently for the same thing (multiword as tuples of lower-case tokens);
# "us" only counts when written "US"
ALIASES: dict[tuple[str, ...], str] = {
    tuple(phrase.split()): canon
    for group in (
        "usa: usa|america|united states|the states|us; uk: uk|britain|great britain|united kingdom|gb; "
        "nyc: nyc|new york city|new york; la: la|los angeles; eu: eu|european union; mac: "
        "mac|macos|osx|os x; gmail: gmail|google mail; christmas: christmas|xmas; 2fa: 2fa|two factor "
        "authentication|two factor|mfa|multi factor authentication|2 factor authentication; wifi: wifi|wi "
        "fi; pr: pr|pull request; tv: tv|television; id: id|identification"
    ).split("; ")
    for canon, phrases in [group.split(": ")]
    for phrase in phrases.split("|")
}

NOT_BEFORE_FREE = {
    "toll",
    "feel",
    "set",
    "break",
    "get",
    "it",
    "charge",
    "cost",
    "afternoon",
    "morning",
    "evening",
    "day",
    "time",
    "slot",
    "weekend",
    "tonight",
    "today",
    "tomorrow",
    "delivery",
    "entry",
    "admission",
    "parking",
    "trial",
    "shipping",
    "postage",
    "interest",
    "tax",
    "duty",
    "hand",
}
