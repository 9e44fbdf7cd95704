"""message path: callback nonces, turn rows in the outbox, inbound leases, city region and hotline

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('callback_nonces',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_nonces')),
    sa.UniqueConstraint('channel', 'nonce', name=op.f('uq_callback_nonces_channel'))
    )
    with op.batch_alter_table('callback_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_nonces_seen_at'), ['seen_at'], unique=False)

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hotline', sa.String(length=32), nullable=True))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inbound_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_inbound_id'), ['inbound_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_inbound_id_inbound_messages'), 'inbound_messages', ['inbound_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_inbound_id_inbound_messages'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_inbound_id'))
        batch_op.drop_column('inbound_id')

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('lease_until')

    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('hotline')
        batch_op.drop_column('region')

    with op.batch_alter_table('callback_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_nonces_seen_at'))

    op.drop_table('callback_nonces')
