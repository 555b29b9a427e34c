"""Create claims: one worker at a time makes a new record under a key the target system keeps (a customer code).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ll_create_claim",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("object", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=True),
        sa.Column("at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ll_create_claim")
