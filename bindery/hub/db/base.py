"""The one SQLAlchemy declarative base every hub table hangs off (so Alembic sees them all)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Base class of all hub ORM models."""
