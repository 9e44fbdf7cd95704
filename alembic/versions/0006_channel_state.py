"""channel state per contact, unreachable contacts, shared channel tokens

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unreachable_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('channel_state', sa.JSON(), nullable=True))
    op.create_table(
        'channel_tokens',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('token', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_channel_tokens')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('channel_tokens')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('channel_state')
        batch_op.drop_column('unreachable_at')
