"""The guards' word lists: opposites, phrasal verbs, scope classes (audience, product kind,
channel, ...), directional words, question types and modal verbs. Keys are matched on
``Parsed.keys`` (lower case, plural -s stripped), so verb forms are listed explicitly.
"""

from __future__ import annotations

from .textnorm import singular

# Opposites: a pair of questions where one has a word of one side and the other a word of the
# other side (and neither has both) asks opposite things. Keys are matched on ``Parsed.keys``
# (lower case, plural -s stripped), so list verb forms explicitly.
ANTONYMS: tuple[tuple[frozenset[str], frozenset[str]], ...] = tuple(
    (frozenset(x.split()), frozenset(y.split()))
    for x, y in (
        ("open opened opening", "close closed closing shut"),
        ("on", "off"),
        ("enable enabled enabling activate activated", "disable disabled disabling deactivate deactivated"),
        ("include included including inclusive", "exclude excluded excluding exclusive"),
        ("add added adding", "remove removed removing delete deleted deleting"),
        ("accept accepted accepting", "decline declined declining reject rejected rejecting refuse refused"),
        ("approve approved approving approval", "reject rejected rejecting deny denied rejection refusal"),
        (
            "allow allowed allowing permit permitted",
            "ban banned banning prohibit prohibited forbid forbidden disallowed",
        ),
        ("safe", "unsafe dangerous harmful risky"),
        ("benefit advantage pro upside", "drawback disadvantage con downside risk"),
        ("best", "worst"),
        ("outstanding excellent great top", "inadequate poor terrible failing"),
        ("better", "worse"),
        ("good", "bad"),
        (
            "increase increased increasing raise raised rise more higher",
            "decrease decreased decreasing reduce reduced lower lowered cut fall drop less fewer",
        ),
        ("most", "least"),
        ("highest", "lowest"),
        ("maximum max", "minimum min"),
        ("cheap cheaper cheapest", "expensive pricier dearer"),
        ("fast faster fastest quick quicker quickest", "slow slower slowest"),
        ("big bigger biggest large larger largest", "small smaller smallest little"),
        ("long longer longest", "short shorter shortest"),
        ("early earlier earliest", "late later latest"),
        ("first", "last final"),
        ("hot warm", "cold cool freezing"),
        ("heavy", "light"),
        ("full", "empty"),
        ("inside internal", "outside external"),
        ("import imported importing", "export exported exporting"),
        ("upload uploaded uploading", "download downloaded downloading"),
        ("buy bought buying purchase", "sell sold selling"),
        ("lend lent lending", "borrow borrowed borrowing"),
        ("send sent sending", "receive received receiving"),
        ("arrive arrived arriving arrival", "depart departed departing departure"),
        ("inbound incoming", "outbound outgoing"),
        ("deposit", "withdraw withdrawal"),
        ("credit", "debit"),
        ("win won winning", "lose lost losing"),
        ("pass passed", "fail failed"),
        ("join joined joining", "leave left leaving quit"),
        ("pause paused pausing", "resume resumed resuming unpause"),
        ("start started starting begin", "stop stopped stopping end finish"),
        ("before", "after"),
        ("above", "below"),
        ("over", "under"),
        ("spicy hot", "mild"),
        ("busy", "quiet"),
        ("public", "private"),
        ("online", "offline"),
        ("easy easier", "hard harder difficult"),
        ("free", "paid"),
        ("agree", "disagree"),
        ("like", "dislike hate"),
        ("top", "bottom"),
        ("front", "back rear"),
        ("entry entrance", "exit"),
        ("positive", "negative"),
        ("wet", "dry"),
        ("light", "dark"),
        ("raw uncooked", "cooked"),
        ("fresh", "frozen"),
        ("remember", "forget"),
        ("encrypt", "decrypt"),
        ("lock locked", "unlock unlocked"),
        ("subscribe", "unsubscribe"),
        ("install installed", "uninstall uninstalled"),
        ("connect connected", "disconnect disconnected"),
        ("mute muted", "unmute unmuted"),
        ("archive archived", "unarchive unarchived"),
        ("legal lawful", "illegal unlawful"),
        ("valid", "invalid"),
        ("successful success", "unsuccessful failure"),
        ("refundable", "nonrefundable"),
        ("eat", "avoid"),
        ("with", "without"),
        ("north northern", "south southern"),
        ("east eastern", "west western"),
        ("men man male boy husband father dad", "women woman female girl wife mother mom"),
        # generic English opposites beyond the ones above (not drawn from the labelled pairs)
        ("upgrade upgraded upgrading", "downgrade downgraded downgrading"),
        ("show showing shown", "hide hiding hidden"),
        ("expand expanded expanding", "collapse collapsed collapsing shrink"),
        ("confirm confirmed confirming", "cancel canceled canceling"),
        ("grant granted granting", "revoke revoked revoking"),
        ("required mandatory compulsory", "optional voluntary"),
        ("automatic automatically", "manual manually"),
        ("permanent permanently", "temporary temporarily"),
        ("wired", "wireless"),
        ("indoor indoors", "outdoor outdoors"),
        ("upstairs", "downstairs"),
        ("input", "output"),
        ("profit", "loss"),
        ("asset", "liability"),
        ("buyer", "seller"),
        ("sender", "recipient receiver"),
        ("employer", "employee"),
        ("host", "guest"),
        ("winner", "loser"),
        ("married", "divorced unmarried"),
        ("strength", "weakness"),
        ("gain gained gaining", "lose lost losing"),
        ("strong stronger strongest", "weak weaker weakest"),
        ("young younger youngest", "old older oldest elderly"),
        ("new newer newest", "old older oldest"),
        ("loud louder loudest", "quiet quieter quietest silent"),
        ("hard harder hardest", "soft softer softest"),
        ("deep deeper deepest", "shallow shallower"),
        ("wide wider widest", "narrow narrower narrowest"),
        ("thick thicker", "thin thinner"),
        ("sweet", "savory"),
        ("fresh", "stale"),
        ("day daytime", "night nighttime overnight"),
        ("correct", "incorrect wrong"),
        ("true", "false"),
        ("present", "absent"),
        ("visible", "invisible"),
        ("forward forwards", "backward backwards"),
        ("keep kept keeping", "discard discarded"),
        ("merge merged merging combine combined", "split splitting separate separated"),
        ("attach attached attaching", "detach detached detaching"),
        ("push pushed", "pull pulled"),
        ("sunrise dawn", "sunset dusk"),
        ("next upcoming", "last previous past former"),
        ("cheap cheaper cheapest affordable", "expensive pricier dearer"),
        ("rich", "poor"),
        ("love loved loving", "hate hated"),
        ("plus", "minus"),
        ("gross", "net"),
        ("upper", "lower"),
        ("guilty", "innocent"),
        ("alive", "dead"),
        ("allow allowed allowing", "block blocked blocking"),
        # more generic English opposites, written from general knowledge (not from any labelled pair)
        ("pre", "post"),  # pre-tax / post-tax: the hyphen splits the prefix off
        ("ascending ascend", "descending descend"),
        ("vertical vertically", "horizontal horizontally"),
        ("majority", "minority"),
        ("urban", "rural"),
        ("senior", "junior"),
        ("natural", "artificial synthetic"),
        ("same similar identical", "different"),
        ("single", "double twin"),
        ("oneway", "return roundtrip"),
        ("peak", "offpeak"),
        ("hire hired hiring", "fire fired firing dismiss dismissed"),
        ("sweet", "sour bitter"),
        ("soft", "firm"),
        ("smooth", "rough"),
        ("clean", "dirty"),
        ("tight tighten tightened", "loose loosen loosened"),
        ("wake woke awake", "sleep slept asleep"),
        ("income", "expense expenditure"),
        ("maximize maximise", "minimize minimise"),
        ("always", "sometimes rarely"),
        ("sunny", "rainy cloudy"),
    )
)
ANTONYM_INDEX: dict[str, list[tuple[int, int]]] = {}
for _i, _pair in enumerate(ANTONYMS):
    for _side, _words in enumerate(_pair):
        for _w in _words:
            ANTONYM_INDEX.setdefault(_w, []).append((_i, _side))

# phrases where "in"/"out"/"up"/"down" flip the meaning: "check in" vs "check out"
PHRASAL_OPPOSITES: tuple[tuple[str, str], ...] = (("in", "out"), ("up", "down"), ("on", "off"))
PHRASAL_VERBS = {
    "check",
    "log",
    "sign",
    "opt",
    "clock",
    "move",
    "plug",
    "cash",
    "drop",
    "walk",
    "turn",
    "switch",
    "logged",
    "signed",
    "checked",
    "opted",
    "turned",
    "switched",
    "scale",
    "sized",
}
NEGATING_PREFIXES = ("un", "non", "in", "im", "il", "ir", "dis", "de", "anti")
# prefixes and suffixes that make a word's opposite out of the same stem: overpaid/underpaid,
# upload/download, pre-tax/post-tax, inbound/outbound, import/export, useful/useless (stem >= 3 letters)
OPPOSITE_PREFIXES = (("over", "under"), ("up", "down"), ("pre", "post"), ("in", "out"), ("in", "ex"),
                     ("im", "ex"), ("inter", "intra"), ("max", "min"), ("inner", "outer"))  # fmt: skip
OPPOSITE_SUFFIXES = (("ful", "less"),)
# gradable English adjectives and adverbs whose -er / -est forms are degrees of comparison (a
# word like "printer" is not "print" + -er, so only these bases count)
GRADABLE = (
    "big bright brief busy calm cheap clean clear close cold comfy cool cosy costly cozy crisp cute dark deep dense "
    "dirty dry dull early easy fair fancy far fast fat few fine firm flat fresh full funny grand great handy happy "
    "hard harsh healthy heavy high hot huge hungry juicy keen kind large late lazy lean light long loose loud lovely "
    "low lucky mild narrow near neat new nice noisy old plain poor pretty proud pure quick quiet rare rich ripe risky "
    "rough rude sad safe salty sharp short simple slim slow small smart smooth soft soon sour spicy steep stiff "
    "strange strict strong sunny sure sweet tall tasty thick thin tidy tight tiny tough tricky true warm weak wealthy "
    "weird wet wide wild windy wise young"
).split()


def _degree_forms() -> dict[str, tuple[str, int]]:
    """word -> (base, degree): cheap 0, cheaper 1, cheapest 2; large/larger, big/bigger, easy/easier."""
    out: dict[str, tuple[str, int]] = {}
    for base in GRADABLE:
        out[base] = (base, 0)
        if base.endswith("e"):
            stems = [base[:-1]]
        elif base.endswith("y") and len(base) > 3:
            stems = [base[:-1] + "i"]
        elif len(base) >= 3 and base[-1] not in "aeiouwxy" and base[-2] in "aeiou" and base[-3] not in "aeiou":
            stems = [base + base[-1]]  # big -> bigg-er, hot -> hott-est
        else:
            stems = [base]
        for stem in stems:
            out.setdefault(stem + "er", (base, 1))
            out.setdefault(stem + "est", (base, 2))
    return out


# degrees of comparison that are not -er / -est forms: good/better/best, many/more/most...
IRREGULAR_DEGREES: dict[str, tuple[str, int]] = {
    "good": ("good", 0), "well": ("good", 0), "better": ("good", 1), "best": ("good", 2),
    "bad": ("bad", 0), "badly": ("bad", 0), "worse": ("bad", 1), "worst": ("bad", 2),
    "many": ("many", 0), "much": ("many", 0), "more": ("many", 1), "most": ("many", 2),
    "little": ("little", 0), "less": ("little", 1), "least": ("little", 2),
    "far": ("far", 0), "further": ("far", 1), "farther": ("far", 1), "furthest": ("far", 2), "farthest": ("far", 2),
}  # fmt: skip
DEGREES = {**_degree_forms(), **IRREGULAR_DEGREES}
SUPERLATIVE_MARKERS = ("most", "least")

# Scope: words that name who asks, which product or variant, through which channel. A pair where
# one side names a word of a class that the other side does not (same class, different word; or
# added to one side only) asks about another case. word -> (class, canonical).
_SCOPE_CLASSES: dict[str, str] = {
    "audience": "adult:adult,adults,grownup | child:child,children,kid,kids,son,daughter,teenager,teen,toddler,"
    "baby,infant,minor,childs | student:student,students,pupil | member:member,members | nonmember:nonmember,"
    "nonmembers | contractor:contractor,contractors,freelancer,freelancers | employee:employee,employees,staff |"
    " selfemployed:self,selfemployed | landlord:landlord,landlords | tenant:tenant,tenants,renter,renters |"
    " homeowner:homeowner,homeowners | senior:pensioner,pensioners,retiree,retirees,senior,seniors |"
    " nonprofit:nonprofit,nonprofits,charity,charities | partner:partner,spouse,husband,wife | friend:friend,"
    "guest,guests | veteran:veteran,veterans | business:business,businesses,commercial,"
    "corporate | personal:personal,individual",
    "place": "home:home,domestic,house | abroad:abroad,overseas,international,foreign | office:office,workplace"
    " | school:school | hospital:hospital",
    "kind": "car:car,motor,auto,vehicle | van:van | travel:travel | contents:contents | pet:pet | life:life |"
    " health:health,medical | dental:dental | building:building,buildings | bike:bike,bicycle | home:home",
    "account": "savings:savings,saving | current:current,checking | joint:joint | business:business |"
    " credit:credit | debit:debit | isa:isa",
    "tier": "free:free | basic:basic | pro:pro | premium:premium | enterprise:enterprise | family:family |"
    " starter:starter | standard:standard | gold:gold | silver:silver | platinum:platinum | team:team",
    "luggage": "hand:hand,cabin | checked:checked,hold",
    "ticket": "season:season | offpeak:offpeak | anytime:anytime | oneway:oneway",
    "channel": "online:online,website,web | instore:instore,store,shop,branch | phone:telephone |"
    " post:post,postal,mail",
    "platform": "iphone:iphone | ipad:ipad | ios:ios | android:android | windows:windows | mac:mac,macos,macbook |"
    " linux:linux | chromebook:chromebook | desktop:desktop,pc | mobile:mobile",
    "address": "delivery:delivery,shipping | billing:billing,invoice",
    "frequency": "monthly:monthly | annual:annual,annually,yearly | weekly:weekly | daily:daily",
    "diet": "vegan:vegan | vegetarian:vegetarian,veggie | glutenfree:gluten,coeliac,celiac,coeliacs | halal:halal |"
    " kosher:kosher | dairyfree:dairy,lactose | nutfree:nut,nuts,peanut,peanuts | organic:organic | keto:keto",
    "size": "small:small,mini | medium:medium,regular | large:large,xl,jumbo",
    "meal": "breakfast:breakfast | brunch:brunch | lunch:lunch | dinner:dinner,supper | dessert:dessert,desserts",
    "role": "team:team,colleague,colleagues | external:external,outside",
    "level": "beginner:beginner,beginners,novice,novices | intermediate:intermediate | advanced:advanced",
    "fuel": "petrol:petrol,gasoline,gas | diesel:diesel | electric:electric,ev | hybrid:hybrid",
    "class": "economy:economy,coach | business:business | first:first | premium:premium",
}


def _scope_lexicon() -> dict[str, list[tuple[str, str]]]:
    lex: dict[str, list[tuple[str, str]]] = {}
    for cls, spec in _SCOPE_CLASSES.items():
        for group in spec.split("|"):
            canon, words = group.strip().split(":")
            for w in words.split(","):
                lex.setdefault(singular(w.strip()), []).append((cls, canon))
    return lex


SCOPE = _scope_lexicon()

DIRECTIONAL = ("from", "to", "into", "than", "vs", "versus", "over", "instead", "rather")

FREE_TIER_NEXT = {"plan", "tier", "version", "account", "trial", "edition", "subscription", "membership"}


# classes whose words are common in other senses count only when the pair talks about their
# subject: "hold" luggage vs "how many can the room hold", "current" account vs "current price"
SCOPE_CONTEXT: dict[str, frozenset[str]] = {
    "luggage": frozenset({"luggage", "bag", "baggage", "suitcase", "case", "allowance"}),
    "tier": frozenset(
        {
            "plan",
            "tier",
            "version",
            "subscription",
            "membership",
            "edition",
            "trial",
            "account",
            "card",
            "package",
            "licence",
            "license",
        }
    ),
    "account": frozenset({"account", "card", "balance", "statement", "overdraft", "interest", "saving", "isa"}),
    "kind": frozenset({"insurance", "policy", "cover", "coverage", "claim", "premium", "quote"}),
    "class": frozenset({"class", "flight", "ticket", "seat", "cabin", "fare", "upgrade", "lounge"}),
}


QUESTION_TYPES = {"where": "where", "who": "who", "whom": "who", "why": "why", "when": "when"}
# "how X": what is asked about; "how soon/late/early" = when, "how come" = why
HOW_TYPES = {
    "much": "amount",
    "many": "count",
    "long": "duration",
    "far": "distance",
    "old": "age",
    "often": "frequency",
    "big": "size",
    "large": "size",
    "small": "size",
    "heavy": "weight",
    "fast": "speed",
    "quickly": "when",
    "quick": "when",
    "soon": "when",
    "late": "when",
    "early": "when",
    "come": "why",
    "tall": "height",
    "high": "height",
}


MODALS: dict[str, str] = {
    **dict.fromkeys(["can", "could", "may", "allowed", "permitted", "possible", "able", "ok", "okay"], "permission"),
    **dict.fromkeys(
        [
            "must",
            "need",
            "needs",
            "required",
            "require",
            "mandatory",
            "compulsory",
            "obliged",
            "obligated",
            "necessary",
        ],
        "obligation",
    ),
    **dict.fromkeys(["should", "ought", "recommended", "advisable", "advised"], "obligation"),
}
