"""NLU inbox annotation: redacted training text, who labelled it and when; room for several topics

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('nlu_inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('training_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('annotated_by', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('annotated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('label', existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('nlu_inbox', schema=None) as batch_op:
        batch_op.alter_column('label', existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=True)
        batch_op.drop_column('annotated_at')
        batch_op.drop_column('annotated_by')
        batch_op.drop_column('training_text')
