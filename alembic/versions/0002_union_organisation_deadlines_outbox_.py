"""union organisation, deadlines, outbox, evidence, review

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('working', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('deadline_policies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('accept_days', sa.Integer(), nullable=False),
    sa.Column('respond_days', sa.Integer(), nullable=False),
    sa.Column('resolve_days', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_deadline_policies_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_policies')),
    sa.UniqueConstraint('org_id', 'category', name=op.f('uq_deadline_policies_org_id'))
    )
    op.create_table('employers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('union_org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('street', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['union_org_id'], ['orgs.id'], name=op.f('fk_employers_union_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employers')),
    sa.UniqueConstraint('name', name=op.f('uq_employers_name'))
    )
    with op.batch_alter_table('employers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employers_union_org_id'), ['union_org_id'], unique=False)

    op.create_table('staff_users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_staff_users_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_users')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_users_username'))
    )
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_users_org_id'), ['org_id'], unique=False)

    op.create_table('employer_aliases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('employer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_employer_aliases_employer_id_employers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employer_aliases')),
    sa.UniqueConstraint('alias', name=op.f('uq_employer_aliases_alias'))
    )
    with op.batch_alter_table('employer_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employer_aliases_employer_id'), ['employer_id'], unique=False)

    op.create_table('experts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=128), nullable=False),
    sa.Column('staff_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], name=op.f('fk_experts_staff_user_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experts'))
    )
    op.create_table('org_coverage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('place', sa.String(length=64), nullable=True),
    sa.Column('employer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['employer_id'], ['employers.id'], name=op.f('fk_org_coverage_employer_id_employers')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_org_coverage_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_coverage')),
    sa.UniqueConstraint('org_id', 'place', 'employer_id', name=op.f('uq_org_coverage_org_id'))
    )
    with op.batch_alter_table('org_coverage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_coverage_employer_id'), ['employer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_coverage_org_id'), ['org_id'], unique=False)

    op.create_table('case_collaborators',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_collaborators_case_id_cases')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_case_collaborators_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_collaborators')),
    sa.UniqueConstraint('case_id', 'org_id', name=op.f('uq_case_collaborators_case_id'))
    )
    with op.batch_alter_table('case_collaborators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_collaborators_case_id'), ['case_id'], unique=False)

    op.create_table('case_deadlines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('breached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_deadlines_case_id_cases')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_case_deadlines_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_deadlines'))
    )
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_deadlines_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_deadlines_open_due', ['met_at', 'breached_at', 'due_at'], unique=False)

    op.create_table('case_ratings',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_ratings_case_id_cases')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_ratings'))
    )
    op.create_table('evidence_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('original_filename', sa.String(length=255), nullable=True),
    sa.Column('mime_type', sa.String(length=100), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_evidence_items_case_id_cases')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_evidence_items_contact_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_items'))
    )
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_items_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_items_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_items_sha256'), ['sha256'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chair_expert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_reviews_case_id_cases')),
    sa.ForeignKeyConstraint(['chair_expert_id'], ['experts.id'], name=op.f('fk_reviews_chair_expert_id_experts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('case_id', name=op.f('uq_reviews_case_id'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('org_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_outbox_case_id_cases')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_outbox_contact_id_contacts')),
    sa.ForeignKeyConstraint(['event_id'], ['case_events.id'], name=op.f('fk_outbox_event_id_case_events')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_outbox_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_org_id'), ['org_id'], unique=False)
        batch_op.create_index('ix_outbox_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('review_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('review_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('expert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('vote', sa.String(length=16), nullable=True),
    sa.Column('voted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['expert_id'], ['experts.id'], name=op.f('fk_review_members_expert_id_experts')),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_members_review_id_reviews')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_members')),
    sa.UniqueConstraint('review_id', 'expert_id', name=op.f('uq_review_members_review_id'))
    )
    with op.batch_alter_table('review_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_members_review_id'), ['review_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_dispute', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('consent_company_union', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('employer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('hometown', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('province', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('incident_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('routing_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('amount_recovered', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('employer_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('collective', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_employer_id'), ['employer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_employer_key'), ['employer_key'], unique=False)

    # SQLite cannot add a foreign key without rebuilding `cases` (which the timeline's
    # foreign keys forbid); there the column is only indexed.
    if op.get_context().dialect.name != "sqlite":
        op.create_foreign_key(op.f('fk_cases_employer_id_employers'), 'cases', 'employers', ['employer_id'], ['id'])

    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('province', sa.String(length=16), nullable=True))



def downgrade() -> None:
    """Downgrade schema."""
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint(op.f('fk_cases_employer_id_employers'), 'cases', type_='foreignkey')
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_column('province')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_employer_key'))
        batch_op.drop_index(batch_op.f('ix_cases_employer_id'))
        batch_op.drop_column('closed_at')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('first_response_at')
        batch_op.drop_column('accepted_at')
        batch_op.drop_column('collective')
        batch_op.drop_column('employer_key')
        batch_op.drop_column('amount_recovered')
        batch_op.drop_column('outcome')
        batch_op.drop_column('routing_reason')
        batch_op.drop_column('incident_date')
        batch_op.drop_column('province')
        batch_op.drop_column('hometown')
        batch_op.drop_column('employer_id')
        batch_op.drop_column('consent_company_union')
        batch_op.drop_column('group_dispute')

    with op.batch_alter_table('review_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_members_review_id'))

    op.drop_table('review_members')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_next')
        batch_op.drop_index(batch_op.f('ix_outbox_org_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_contact_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_case_id'))

    op.drop_table('outbox')
    op.drop_table('reviews')
    with op.batch_alter_table('evidence_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evidence_items_sha256'))
        batch_op.drop_index(batch_op.f('ix_evidence_items_contact_id'))
        batch_op.drop_index(batch_op.f('ix_evidence_items_case_id'))

    op.drop_table('evidence_items')
    op.drop_table('case_ratings')
    with op.batch_alter_table('case_deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_case_deadlines_open_due')
        batch_op.drop_index(batch_op.f('ix_case_deadlines_case_id'))

    op.drop_table('case_deadlines')
    with op.batch_alter_table('case_collaborators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_collaborators_case_id'))

    op.drop_table('case_collaborators')
    with op.batch_alter_table('org_coverage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_coverage_org_id'))
        batch_op.drop_index(batch_op.f('ix_org_coverage_employer_id'))

    op.drop_table('org_coverage')
    op.drop_table('experts')
    with op.batch_alter_table('employer_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employer_aliases_employer_id'))

    op.drop_table('employer_aliases')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_users_org_id'))

    op.drop_table('staff_users')
    with op.batch_alter_table('employers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_employers_union_org_id'))

    op.drop_table('employers')
    op.drop_table('deadline_policies')
    op.drop_table('calendar_days')
