//! Agents, their encrypted tokens, Facebook Login states and page choices: the SQL both backends
//! share, expanded into `impl_store!` by `agent_methods!`.

/// Encrypted Page tokens live apart from `agents` (on PostgreSQL in `pulso_private`, which no
/// Supabase role can read), so `agents` holds nothing secret.
macro_rules! upsert_token_sql {
    () => {
        "INSERT INTO agent_tokens (agent_id, page_token_encrypted) VALUES ($1, $2) \
         ON CONFLICT (agent_id) DO UPDATE SET page_token_encrypted = excluded.page_token_encrypted"
    };
}

macro_rules! agent_methods {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn upsert_agent_sql(&self, agent: &NewAgent, now: DateTime<Utc>) -> StoreResult<(Agent, Upserted)> {
                let email = agent.email.trim().to_lowercase();
                let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM agents WHERE email = $1")
                    .bind(&email)
                    .fetch_optional(&self.pool)
                    .await?;
                let (id, outcome) = match existing {
                    Some(id) => {
                        sqlx::query(
                            "UPDATE agents SET name = $2, \
                               facebook_page_id = COALESCE($3, facebook_page_id), \
                               instagram_account_id = COALESCE($4, instagram_account_id), \
                               updated_at = $5 WHERE id = $1",
                        )
                        .bind(id)
                        .bind(crate::domain::outside_line(&agent.name))
                        .bind(&agent.facebook_page_id)
                        .bind(&agent.instagram_account_id)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                        (id, Upserted::Updated)
                    }
                    None => {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO agents (name, email, role, facebook_page_id, instagram_account_id, status, \
                               created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'inactive', $6, $6) RETURNING id",
                        )
                        .bind(crate::domain::outside_line(&agent.name))
                        .bind(&email)
                        .bind(agent.role.as_str())
                        .bind(&agent.facebook_page_id)
                        .bind(&agent.instagram_account_id)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| {
                            let e = StoreError::from(e);
                            if e.is_unique_violation() {
                                StoreError::Conflict(format!("ya existe un agente con el correo {email}"))
                            } else {
                                e
                            }
                        })?;
                        (id, Upserted::Created)
                    }
                };
                let agent = self
                    .agent_sql(id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("agente {id}")))?;
                Ok((agent, outcome))
            }

            pub(crate) async fn agent_sql(&self, id: AgentId) -> StoreResult<Option<Agent>> {
                let row: Option<AgentRow> =
                    sqlx::query_as(concat!("SELECT ", agent_columns!(), " FROM agents WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(Agent::try_from).transpose()
            }

            pub(crate) async fn agents_sql(&self) -> StoreResult<Vec<Agent>> {
                let rows: Vec<AgentRow> = sqlx::query_as(concat!("SELECT ", agent_columns!(), " FROM agents ORDER BY name, id"))
                    .fetch_all(&self.pool)
                    .await?;
                let mut agents = rows.into_iter().map(Agent::try_from).collect::<StoreResult<Vec<Agent>>>()?;
                // Spanish alphabetical order (SQL's byte order puts "Ángel" after "Zoe").
                agents.sort_by_cached_key(|a| (crate::domain::spanish_key(&a.name), a.id));
                Ok(agents)
            }

            pub(crate) async fn set_agent_page_sql(&self, id: AgentId, page_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET facebook_page_id = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(page_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            pub(crate) async fn set_agent_role_sql(
                &self,
                id: AgentId,
                role: $crate::domain::Role,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET role = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(role.as_str())
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            pub(crate) async fn set_agent_token_sql(
                &self,
                id: AgentId,
                encrypted: &str,
                expires_at: Option<DateTime<Utc>>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE agents SET token_expires_at = $2, token_reminder_sent_at = NULL, updated_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(expires_at)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                expect_one(done.rows_affected(), id)?;
                sqlx::query($crate::store::agents::upsert_token_sql!()).bind(id).bind(encrypted).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn agent_token_sql(&self, id: AgentId) -> StoreResult<Option<String>> {
                let token: Option<Option<String>> =
                    sqlx::query_scalar("SELECT page_token_encrypted FROM agent_tokens WHERE agent_id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(token.flatten())
            }

            pub(crate) async fn set_agent_status_sql(
                &self,
                id: AgentId,
                status: ConnectionStatus,
                reason: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1")
                    .bind(id)
                    .bind(status.as_str())
                    .bind(reason)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            pub(crate) async fn mark_agent_synced_sql(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET last_synced_at = $2, updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            pub(crate) async fn connect_agent_sql(
                &self,
                id: AgentId,
                connection: &$crate::store::AgentConnection,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE agents SET facebook_page_id = $2, token_expires_at = $3, \
                       token_scopes = $4, token_reminder_sent_at = NULL, status = 'active', status_reason = NULL, \
                       updated_at = $5 WHERE id = $1",
                )
                .bind(id)
                .bind(&connection.page_id)
                .bind(connection.token_expires_at)
                .bind(connection.scopes.join(","))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                expect_one(done.rows_affected(), id)?;
                sqlx::query($crate::store::agents::upsert_token_sql!())
                    .bind(id)
                    .bind(&connection.token_encrypted)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM oauth_page_candidates WHERE agent_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn agent_token_scopes_sql(&self, id: AgentId) -> StoreResult<Option<Vec<String>>> {
                let scopes: Option<Option<String>> = sqlx::query_scalar("SELECT token_scopes FROM agents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(scopes.flatten().map(|s| split_scopes(&s)))
            }

            pub(crate) async fn use_oauth_state_sql(
                &self,
                nonce: &str,
                agent: AgentId,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO oauth_states (nonce, agent_id, expires_at, used_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (nonce) DO NOTHING",
                )
                .bind(nonce)
                .bind(agent)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn set_page_candidates_sql(
                &self,
                agent: AgentId,
                candidates: &[$crate::store::PageCandidate],
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM oauth_page_candidates WHERE agent_id = $1")
                    .bind(agent)
                    .execute(&mut *tx)
                    .await?;
                for c in candidates {
                    sqlx::query(
                        "INSERT INTO oauth_page_candidates (agent_id, position, page_id, page_name, token_encrypted, \
                           token_expires_at, scopes, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(agent)
                    .bind(c.position)
                    .bind(&c.page_id)
                    .bind(&c.page_name)
                    .bind(&c.token_encrypted)
                    .bind(c.token_expires_at)
                    .bind(c.scopes.join(","))
                    .bind(expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn page_candidates_sql(
                &self,
                agent: AgentId,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<$crate::store::PageCandidate>> {
                let rows: Vec<(i64, String, String, String, Option<DateTime<Utc>>, String)> = sqlx::query_as(
                    "SELECT position, page_id, page_name, token_encrypted, token_expires_at, scopes \
                     FROM oauth_page_candidates WHERE agent_id = $1 AND expires_at > $2 ORDER BY position",
                )
                .bind(agent)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(position, page_id, page_name, token_encrypted, token_expires_at, scopes)| {
                        $crate::store::PageCandidate {
                            position,
                            page_id,
                            page_name,
                            token_encrypted,
                            token_expires_at,
                            scopes: split_scopes(&scopes),
                        }
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use {agent_methods, upsert_token_sql};
