"""model registry: nlu_models

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('nlu_models',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('data_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trained_by', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_by', sa.String(length=128), nullable=True),
    sa.Column('override_reason', sa.Text(), nullable=True),
    sa.Column('loading_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nlu_models')),
    sa.UniqueConstraint('name', name=op.f('uq_nlu_models_name'))
    )
    with op.batch_alter_table('nlu_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nlu_models_status'), ['status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('nlu_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nlu_models_status'))
    op.drop_table('nlu_models')
