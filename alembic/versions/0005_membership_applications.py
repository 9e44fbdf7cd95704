"""membership applications

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('membership_applications',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('employer', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_membership_applications_contact_id_contacts')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_membership_applications_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_membership_applications'))
    )
    with op.batch_alter_table('membership_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_applications_contact_id'), ['contact_id'], unique=False)




def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table('membership_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_applications_contact_id'))

    op.drop_table('membership_applications')
