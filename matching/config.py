"""Matching configuration: the cost weights and the hard rules.

Every cost is in **kilometre-equivalents** (km-eq): a weight says how many
kilometres of extra travel a thing is worth.  "An uncovered need costs 2 km"
means staff would rather send a mentor 2 km further than leave one of the
child's need categories uncovered.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from matching.errors import ConfigError

if TYPE_CHECKING:
    from matching.rosters.vocabulary import Vocabulary

__all__ = [
    "MAX_WEIGHT_KM",
    "GeocodeConfig",
    "MatchConfig",
    "NightlyConfig",
    "OutputConfig",
    "RematchPolicy",
    "load_config",
    "load_geocode_config",
    "load_nightly_config",
    "load_output_config",
    "load_rematch_policy",
    "load_vocabulary",
    "validate_policy",
]

Objective = Literal["max_pairs", "min_cost"]


@dataclass(frozen=True, kw_only=True)
class MatchConfig:
    """Weights and rules for :func:`matching.match` (keyword-only, immutable).

    Parameters
    ----------
    max_distance_km : float, default 5.0
        Hard limit on the great-circle distance between a child and a mentor:
        a mentor visiting on foot or by city bus.  A mentor's own
        ``max_distance_km`` column overrides it for that mentor.
    uncovered_need_km : float, default 2.0
        Cost of each of the child's need categories that the mentor's skills
        do not cover.
    shared_interest_km : float, default 0.5
        Cost *reduction* for each interest tag the child and the mentor share
        (e.g. both list ``国际象棋``), counted up to ``max_shared_interests``.
    max_shared_interests : int, default 2
        Cap on the shared interests that count.
    unmatched_km : float, default 10.0
        Price of leaving a child without a mentor.
    priority_km : float, default 10.0
        Extra price of leaving a child unmatched, per level of ``priority``
        (e.g. referrals from petition cases).
    objective : {"max_pairs", "min_cost"}, default "max_pairs"
        ``"max_pairs"``: pair as many children as the rules allow and, among
        those pairings, minimise the total cost (pair costs plus the prices of
        the children left unmatched, so priority children are paired first).
        ``"min_cost"``: minimise the same total without the cardinality rule,
        so a child stays unmatched when every mentor within reach costs more
        than the child's unmatched price.
    same_street : bool, default False
        Only pair a child and a mentor of the same street (街道).
    same_gender : bool, default False
        Only pair a child and a mentor of the same gender (pairs where either
        gender is unknown are allowed).
    forbidden_pairs : tuple of (child_id, mentor_id), default ()
        Pairs that must never be made.
    k_nearest : int or None, default None
        If set, each child considers only its ``k_nearest`` nearest mentors
        within reach (a rule the user chooses; the optimum is then over that
        candidate set).  By default every mentor within reach is considered.
    resolution_km : float, default 0.001
        Costs are solved as integers in units of this size (1 m): the total of
        a pairing is optimal to within half a unit per pair.

    Examples
    --------
    >>> from matching import MatchConfig
    >>> cfg = MatchConfig(max_distance_km=3.0, same_street=True)
    >>> cfg.max_distance_km, cfg.uncovered_need_km
    (3.0, 2.0)
    """

    max_distance_km: float = 5.0
    uncovered_need_km: float = 2.0
    shared_interest_km: float = 0.5
    max_shared_interests: int = 2
    unmatched_km: float = 10.0
    priority_km: float = 10.0
    objective: Objective = "max_pairs"
    same_street: bool = False
    same_gender: bool = False
    forbidden_pairs: tuple[tuple[str, str], ...] = ()
    k_nearest: int | None = None
    resolution_km: float = 0.001

    @classmethod
    def from_toml(cls, path: str | Path) -> MatchConfig:
        """Load a configuration from a TOML file (see :func:`load_config`)."""
        return load_config(path)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain data (for run summaries)."""
        d = asdict(self)
        d["forbidden_pairs"] = [list(p) for p in self.forbidden_pairs]
        return d


# The accepted range of every numeric setting.  The upper bounds keep each integer cost of a
# district inside the solver's 64-bit arithmetic (matching.solve.integer_costs and the guard in
# matching.match): with every km weight <= 1000 km-eq, max_shared_interests <= 100 and a
# roster's priority <= 100, no cost or price exceeds about 2.1e5 km-eq, 2.1e11 units at the
# finest resolution (1e-6 km), so even the price of the unmatched arc of a district of a million
# children (about 2e17) fits in int64 and the guard, not an overflow, answers for larger ones.
# 1000 km-eq is far beyond any useful weight (the default limit is 5 km).  max_distance_km has
# the bound of the roster column of the same name (matching.rosters).
_MAX_DISTANCE_KM = 100.0
MAX_WEIGHT_KM = 1000.0
"""The largest km-eq weight accepted (``uncovered_need_km`` and the others; also the
re-match's ``switching_cost_km``)."""
_RESOLUTION_KM = (1e-6, 1.0)  # 1 mm to 1 km
_MAX_SHARED_INTERESTS = 100
_MAX_K_NEAREST = 1_000_000  # more than the mentors of any district: the same as all of them


def _num(
    name: str,
    value: object,
    *,
    minimum: float,
    maximum: float,
    strict: bool = False,
    owner: str = "MatchConfig",
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            f = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int beyond float range
            f = math.inf
        ok = math.isfinite(f) and (f > minimum if strict else f >= minimum) and f <= maximum
    if not ok:
        op = ">" if strict else ">="
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be a finite number {op} {minimum:g} "
            f"and <= {maximum:g}, got {value!r} instead."
        )


def validate_config(config: object) -> MatchConfig:
    """Check every field of ``config``; return it with pairs normalised to text.

    The numeric settings must lie in these ranges: ``max_distance_km`` more
    than 0 up to 100 (as a roster's column); ``uncovered_need_km``,
    ``shared_interest_km``, ``unmatched_km`` and ``priority_km`` 0 to 1000;
    ``resolution_km`` 1e-6 to 1; ``max_shared_interests`` an int, 0 to 100;
    ``k_nearest`` None or an int, 1 to 1,000,000.
    """
    if not isinstance(config, MatchConfig):
        raise ConfigError(
            f"The 'config' parameter must be a MatchConfig, got {type(config).__name__} instead."
        )
    _num(
        "max_distance_km", config.max_distance_km, minimum=0, maximum=_MAX_DISTANCE_KM, strict=True
    )
    for name in ("uncovered_need_km", "shared_interest_km", "unmatched_km", "priority_km"):
        _num(name, getattr(config, name), minimum=0, maximum=MAX_WEIGHT_KM)
    low, high = _RESOLUTION_KM
    _num("resolution_km", config.resolution_km, minimum=low, maximum=high)
    msi = config.max_shared_interests
    if not isinstance(msi, int) or isinstance(msi, bool) or not 0 <= msi <= _MAX_SHARED_INTERESTS:
        raise ConfigError(
            "The 'max_shared_interests' parameter of MatchConfig must be an int >= 0 and "
            f"<= {_MAX_SHARED_INTERESTS}, got {msi!r} instead."
        )
    k = config.k_nearest
    if k is not None and (
        not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= _MAX_K_NEAREST
    ):
        raise ConfigError(
            "The 'k_nearest' parameter of MatchConfig must be None or an int >= 1 and "
            f"<= {_MAX_K_NEAREST:,}, got {k!r} instead."
        )
    if config.objective not in ("max_pairs", "min_cost"):
        raise ConfigError(
            "The 'objective' parameter of MatchConfig must be 'max_pairs' or 'min_cost', "
            f"got {config.objective!r} instead."
        )
    for name in ("same_street", "same_gender"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(
                f"The {name!r} parameter of MatchConfig must be a bool, "
                f"got {getattr(config, name)!r} instead."
            )
    pairs: list[tuple[str, str]] = []
    try:
        for p in config.forbidden_pairs:
            if isinstance(p, (str, bytes)) or len(p) != 2:
                raise TypeError
            pairs.append((_id_text(p[0]), _id_text(p[1])))
    except TypeError:
        raise ConfigError(
            "The 'forbidden_pairs' parameter of MatchConfig must be a sequence of "
            f"(child_id, mentor_id) pairs, got {config.forbidden_pairs!r} instead."
        ) from None
    return replace(config, forbidden_pairs=tuple(pairs))


def _id_text(v: object) -> str:
    if isinstance(v, bool) or v is None:
        raise TypeError
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    if not s:
        raise TypeError
    return s


@dataclass(frozen=True, kw_only=True)
class RematchPolicy:
    """How a re-match treats the existing pairs (keyword-only, immutable, checked when made).

    Parameters
    ----------
    allow_moves : bool, default False
        Let unpinned pairs move when a move gains more than
        ``switching_cost_km``; by default no existing pair moves.
    switching_cost_km : float, default 5.0
        Bonus (km-eq) each existing pair earns for staying: a number from 0
        to :data:`MAX_WEIGHT_KM`.
    max_moves : int or None, default None
        Cap on the pairs one run moves (with ``allow_moves``): the switching
        cost is doubled until the optimum moves no more.
    price_of_stability : bool, default True
        Also solve the same children and mentors from scratch to report the
        price of stability (a full match, usually far slower than the
        re-match itself).

    Raises
    ------
    ConfigError
        If a field is out of range or of the wrong type (naming the field).

    Examples
    --------
    >>> RematchPolicy(allow_moves=True, max_moves=20).switching_cost_km
    5.0
    """

    allow_moves: bool = False
    switching_cost_km: float = 5.0
    max_moves: int | None = None
    price_of_stability: bool = True

    def __post_init__(self) -> None:
        for name in ("allow_moves", "price_of_stability"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"The {name!r} parameter of RematchPolicy must be a bool, "
                    f"got {getattr(self, name)!r} instead."
                )
        _num(
            "switching_cost_km", self.switching_cost_km, minimum=0, maximum=MAX_WEIGHT_KM,
            owner="RematchPolicy",
        )  # fmt: skip
        moves = self.max_moves
        if moves is not None and (
            not isinstance(moves, int) or isinstance(moves, bool) or moves < 0
        ):
            raise ConfigError(
                "The 'max_moves' parameter of RematchPolicy must be None or an int >= 0, "
                f"got {moves!r} instead."
            )

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data (for run summaries and digests)."""
        return asdict(self)


def validate_policy(policy: object) -> RematchPolicy:
    """``policy``, or the default :class:`RematchPolicy` for None; a ConfigError for any other
    type."""
    if policy is None:
        return RematchPolicy()
    if not isinstance(policy, RematchPolicy):
        raise ConfigError(
            f"The 'policy' parameter must be a RematchPolicy, got {type(policy).__name__} instead."
        )
    return policy


_SECTION = "matching"


def _read_toml(p: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {p}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None


_NIGHTLY = "nightly"
_REMATCH = "rematch"
_OUTPUT = "output"
# tables read by their own loaders (load_nightly_config, load_rematch_policy,
# load_output_config, ...), left out of the [matching] settings
_SIDE_TABLES = (_NIGHTLY, _REMATCH, _OUTPUT, "vocabulary", "geocode")


def _refuse_unknown(p: Path, data: dict[str, Any], cls: type, where: str) -> None:
    """A typo must not silently fall back to a default: unknown keys are an error."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"config file {p} has unknown key(s) {', '.join(unknown)}{where}; "
            f"accepted keys: {', '.join(sorted(known))}"
        )


@dataclass(frozen=True, kw_only=True)
class NightlyConfig:
    """Settings of the nightly batch job (the ``[nightly]`` table of the TOML file).

    Parameters
    ----------
    timezone : str, default "Asia/Shanghai"
        The programme's time zone (an IANA name): the run date defaults to
        today there, so a run at 03:27 in Beijing stands for that day.

    Examples
    --------
    >>> NightlyConfig().timezone
    'Asia/Shanghai'
    """

    timezone: str = "Asia/Shanghai"


def _side_table(p: Path, name: str, cls: type) -> dict[str, Any]:
    """The ``[name]`` table of the file (empty if absent), its keys checked against ``cls``."""
    table = _read_toml(p).get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {p}: [{name}] must be a table")
    _refuse_unknown(p, table, cls, f" in [{name}]")
    return table


def load_nightly_config(path: str | Path | None) -> NightlyConfig:
    """The ``[nightly]`` table of a TOML configuration file (defaults without a file or table).

    Unknown keys are an error.  The time zone is checked when it is used.
    """
    if path is None:
        return NightlyConfig()
    p = Path(path)
    zone = _side_table(p, _NIGHTLY, NightlyConfig).get("timezone", NightlyConfig.timezone)
    if not isinstance(zone, str) or not zone:
        raise ConfigError(f"config file {p}: [nightly] timezone must be a time zone name")
    return NightlyConfig(timezone=zone)


@dataclass(frozen=True, kw_only=True)
class OutputConfig:
    """What the files staff open look like (the ``[output]`` table of the TOML file).

    Parameters
    ----------
    language : {"zh", "en"} or None, default None
        The language of messages, headers, reasons and charts; ``None``
        follows the locale (:func:`matching.i18n.default_language`).
    carry_columns : tuple of str, default ()
        Roster columns (as headed in the roster files, e.g. ``姓名``) copied
        into the CSV and Excel files staff open, so that they can act
        without a look-up.  Never written to logs, the terminal, the JSON
        files or the state store.

    Examples
    --------
    >>> OutputConfig(language="zh", carry_columns=("姓名",)).carry_columns
    ('姓名',)
    """

    language: str | None = None
    carry_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from matching.i18n import check_language

        if self.language is not None:
            object.__setattr__(self, "language", check_language(self.language))
        columns = self.carry_columns
        if isinstance(columns, str) or not all(isinstance(c, str) and c.strip() for c in columns):
            raise ConfigError(
                "The 'carry_columns' parameter must be a list of column headers, "
                f"got a {type(columns).__name__} instead."
            )
        object.__setattr__(self, "carry_columns", tuple(c.strip() for c in columns))


def load_output_config(path: str | Path | None) -> OutputConfig:
    """The ``[output]`` table of a TOML configuration file (defaults without a file or table).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> toml = pathlib.Path(tempfile.mkdtemp(), "matching.toml")
    >>> _ = toml.write_text('[output]\\nlanguage = "zh"\\ncarry_columns = ["姓名"]\\n')
    >>> load_output_config(toml)
    OutputConfig(language='zh', carry_columns=('姓名',))
    """
    if path is None:
        return OutputConfig()
    p = Path(path)
    table = dict(_side_table(p, _OUTPUT, OutputConfig))
    if isinstance(table.get("carry_columns"), list):
        table["carry_columns"] = tuple(table["carry_columns"])
    try:
        return OutputConfig(**table)
    except ConfigError as exc:
        raise ConfigError(f"config file {p}, [output]: {exc}") from None


_VOCABULARY = "vocabulary"
_VOCABULARY_KEYS = ("priority", "needs", "active", "gender")


def load_vocabulary(path: str | Path | None) -> Vocabulary:
    """The built-in roster vocabulary extended by the ``[vocabulary]`` table of a TOML file.

    The table's keys are ``priority``, ``needs``, ``active`` and ``gender``,
    each a table of words and their meanings (see
    :meth:`matching.rosters.Vocabulary.extended`).  Without a file or a
    table, the built-in vocabulary
    (:data:`matching.rosters.VOCABULARY`).

    Raises
    ------
    ConfigError
        If the file cannot be read, a key is unknown, or a word or its
        meaning is not acceptable; the message names the file and the key.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> toml = pathlib.Path(tempfile.mkdtemp(), "matching.toml")
    >>> _ = toml.write_text(
    ...     '[vocabulary]\\npriority = { "特急" = 3 }\\n'
    ...     'needs = { "心理辅导" = "spiritual_growth" }\\n'
    ... )
    >>> words = load_vocabulary(toml)
    >>> words.priority["特急"], words.needs["心理辅导"]
    (3, 'spiritual_growth')
    """
    from matching.rosters.vocabulary import VOCABULARY

    if path is None:
        return VOCABULARY
    p = Path(path)
    table = _read_toml(p).get(_VOCABULARY, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {p}: [{_VOCABULARY}] must be a table")
    unknown = sorted(set(table) - set(_VOCABULARY_KEYS))
    if unknown:
        raise ConfigError(
            f"config file {p}: unknown key(s) in [{_VOCABULARY}]: {', '.join(unknown)} "
            f"(accepted: {', '.join(_VOCABULARY_KEYS)})"
        )
    try:
        return VOCABULARY.extended(**table)
    except ConfigError as exc:
        raise ConfigError(f"config file {p}, [{_VOCABULARY}]: {exc}") from None


def load_rematch_policy(path: str | Path | None) -> RematchPolicy:
    """The ``[rematch]`` table of a TOML configuration file (defaults without a file or table).

    Its keys are the fields of :class:`RematchPolicy`; unknown keys are an
    error, and values are checked as :class:`RematchPolicy` checks them.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> toml = pathlib.Path(tempfile.mkdtemp(), "matching.toml")
    >>> _ = toml.write_text("[rematch]\\nallow_moves = true\\nmax_moves = 20\\n")
    >>> load_rematch_policy(toml).max_moves
    20
    """
    if path is None:
        return RematchPolicy()
    p = Path(path)
    table = _side_table(p, _REMATCH, RematchPolicy)
    try:
        return RematchPolicy(**table)
    except ConfigError as exc:
        raise ConfigError(f"config file {p}, [rematch]: {exc}") from None


def load_config(path: str | Path) -> MatchConfig:
    """Load a :class:`MatchConfig` from TOML.

    Keys may sit at the top level or in a ``[matching]`` table; unknown keys
    are an error (a typo must not silently fall back to a default).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "cfg.toml"
    >>> _ = p.write_text('[matching]\\nmax_distance_km = 3.0\\nforbidden_pairs = [["C1", "M2"]]\\n')
    >>> load_config(p).forbidden_pairs
    (('C1', 'M2'),)
    """
    p = Path(path)
    raw = _read_toml(p)
    for side in _SIDE_TABLES:
        if isinstance(raw.get(side), dict):
            raw = {k: v for k, v in raw.items() if k != side}
    if isinstance(raw.get(_SECTION), dict):
        outside = sorted(k for k in raw if k != _SECTION)
        if outside:
            raise ConfigError(
                f"config file {p} has key(s) {', '.join(outside)} outside its tables "
                f"([matching], [{'], ['.join(_SIDE_TABLES)}]); put every setting inside a table "
                "(or use no table at all)"
            )
        data = raw[_SECTION]
    else:
        data = raw
    _refuse_unknown(p, data, MatchConfig, "")
    kwargs = dict(data)
    if "forbidden_pairs" in kwargs:
        fp = kwargs["forbidden_pairs"]
        if not isinstance(fp, list):
            raise ConfigError(f"config file {p}: 'forbidden_pairs' must be a list of pairs")
        kwargs["forbidden_pairs"] = tuple(tuple(x) if isinstance(x, list) else x for x in fp)
    return validate_config(MatchConfig(**kwargs))


_GEOCODE = "geocode"


@dataclass(frozen=True, kw_only=True)
class GeocodeConfig:
    """How rosters are geocoded (the ``[geocode]`` table of the TOML file).

    Read by ``matching geocode`` and by the ``--geocode`` option of
    ``matching match`` and ``matching nightly``; options given on the
    command line win.  The key itself never goes into the file: ``key_env``
    names the environment variable that holds it.

    Parameters
    ----------
    provider : {"amap", "baidu", "nominatim"} or None, default None
        The geocoding service (:func:`matching.geo.make_geocoder`).
    key_env : str or None, default None
        The environment variable holding the service's key.
    cache : str or None, default None
        The SQLite cache file; a relative path is taken from the folder of
        the configuration file.  ``None``: no cache kept between runs.
    user_agent : str or None, default None
        The HTTP User-Agent (``mentor-matching/<version>`` by default).
    timeout_seconds : float, default 10.0
        How long to wait for an answer.
    min_delay_seconds : float or None, default None
        Minimum delay between requests; ``None`` takes the provider's
        (:data:`matching.geo.DEFAULT_MIN_DELAY_SECONDS`).
    max_retries : int, default 2
        Retries of a request that failed with a service error.
    error_wait_seconds : float, default 5.0
        Wait before each retry.
    address_column : str, default "address"
        Header of the address column (the usual Chinese headers such as 地址
        are found without it).
    domain : str or None, default None
        Host (and port) of the service instead of the provider's own: a
        self-hosted Nominatim, a gateway, or a local test server.
    scheme : {"https", "http"} or None, default None
        The scheme of requests (``https`` by default).

    Examples
    --------
    >>> GeocodeConfig(provider="amap", key_env="AMAP_KEY").max_retries
    2
    """

    provider: str | None = None
    key_env: str | None = None
    cache: str | None = None
    user_agent: str | None = None
    timeout_seconds: float = 10.0
    min_delay_seconds: float | None = None
    max_retries: int = 2
    error_wait_seconds: float = 5.0
    address_column: str = "address"
    domain: str | None = None
    scheme: str | None = None

    def __post_init__(self) -> None:
        from matching.geo.providers import PROVIDERS

        if self.provider is not None:
            name = self.provider.strip().lower() if isinstance(self.provider, str) else None
            if name not in PROVIDERS:
                raise ConfigError(
                    f"provider must be one of {', '.join(PROVIDERS)}; got {self.provider!r}"
                )
            object.__setattr__(self, "provider", name)
        if self.scheme is not None and self.scheme not in ("https", "http"):
            raise ConfigError(f"scheme must be 'https' or 'http'; got {self.scheme!r}")
        for text in ("key_env", "cache", "user_agent", "domain"):
            value = getattr(self, text)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{text} must be a non-empty string; got {value!r}")
        column = self.address_column
        if not isinstance(column, str) or not column.strip():
            raise ConfigError(f"address_column must be a column header; got {column!r}")
        if self.min_delay_seconds is not None:
            _geocode_number("min_delay_seconds", self.min_delay_seconds, low=0.0)
        _geocode_number("timeout_seconds", self.timeout_seconds, low=0.0, low_ok=False)
        _geocode_number("error_wait_seconds", self.error_wait_seconds, low=0.0)
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigError(f"max_retries must be a whole number >= 0; got {self.max_retries!r}")
        _geocode_number("max_retries", self.max_retries, low=0.0)


def _geocode_number(name: str, value: object, *, low: float, low_ok: bool = True) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (value == low and not low_ok):  # type: ignore[operator]
        bound = f">= {low:g}" if low_ok else f"> {low:g}"
        raise ConfigError(f"{name} must be a number {bound}; got {value!r}")


def load_geocode_config(path: str | Path | None) -> GeocodeConfig:
    """The ``[geocode]`` table of a TOML configuration file (defaults without a file or table).

    Unknown keys are an error; a relative ``cache`` path is taken from the
    folder of the file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> toml = folder / "matching.toml"
    >>> text = '[geocode]\\nprovider = "amap"\\nkey_env = "AMAP_KEY"\\ncache = "geo.db"\\n'
    >>> _ = toml.write_text(text)
    >>> config = load_geocode_config(toml)
    >>> config.provider, config.key_env, config.cache == str(folder / "geo.db")
    ('amap', 'AMAP_KEY', True)
    """
    if path is None:
        return GeocodeConfig()
    p = Path(path)
    table = dict(_side_table(p, _GEOCODE, GeocodeConfig))
    cache = table.get("cache")
    if isinstance(cache, str) and cache.strip():
        table["cache"] = str(p.parent / Path(cache.strip()).expanduser())
    try:
        return GeocodeConfig(**table)
    except ConfigError as exc:
        raise ConfigError(f"config file {p}, [geocode]: {exc}") from None
