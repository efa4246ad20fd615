//! What a JavaScript hub method sees of the hub: [`HubCallContext`] (the caller, client
//! results, its groups), [`HubClients`] / [`HubClientProxy`] (fire-and-forget calls to
//! connections, like ASP.NET Core's `Clients`) and [`HubGroups`].
//!
//! Arguments of fire-and-forget calls are encoded once as MessagePack and transcoded per
//! receiving connection, so bytes reach MessagePack clients as `bin` and JSON clients as
//! base64 strings.

use interlink::hub::server::{ClientProxy, Clients, Groups, HubContext, HubError};
use interlink_core::hub::HubProtocol;
use napi::bindgen_prelude::Object;
use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, JsValue};
use napi_derive::napi;

use crate::hub_error::{HubBindError, HubErrorCode, hub_promise};
use crate::hub_options::protocol_name;
use crate::hub_rest::{RestArgs, install};
use crate::hub_value::HubValue;

/// A group or connection error of the registry is the caller's mistake.
fn registry_error(e: HubError) -> HubBindError {
    match e {
        HubError::Hub(text) => HubBindError::new(HubErrorCode::InvalidArgument, text),
        other => other.into(),
    }
}

/// The context of one call of a hub method (its first argument): who called, and the rest
/// of the hub. Usable after the method returned.
#[napi]
pub struct HubCallContext {
    inner: HubContext,
}

impl HubCallContext {
    /// The context of a call.
    pub fn new(inner: HubContext) -> Self {
        HubCallContext { inner }
    }
}

#[napi]
impl HubCallContext {
    /// The caller's connection id.
    #[napi(getter)]
    pub fn connection_id(&self) -> String {
        self.inner.connection_id().to_owned()
    }

    /// The caller's user id (from the route's authentication; `null` when anonymous).
    #[napi(getter)]
    pub fn user_id(&self) -> Option<String> {
        self.inner.user_id().map(str::to_owned)
    }

    /// The caller's hub protocol.
    #[napi(getter, ts_return_type = "'json' | 'messagepack'")]
    pub fn protocol(&self) -> &'static str {
        protocol_name(self.inner.protocol())
    }

    /// Calls on connections of this hub, relative to the caller (`caller`, `others`, ...).
    #[napi(getter)]
    pub fn clients(&self) -> HubClients {
        HubClients {
            inner: self.inner.clients(),
        }
    }

    /// Group membership of any connection.
    #[napi(getter)]
    pub fn groups(&self) -> HubGroups {
        HubGroups {
            inner: self.inner.groups(),
        }
    }

    /// Adds the caller to `group`; `false` if it already was a member.
    #[napi]
    pub fn add_to_group(&self, env: Env, group: String) -> napi::Result<bool> {
        self.inner
            .groups()
            .add(self.inner.connection_id(), &group)
            .map_err(|e| registry_error(e).into_napi(&env))
    }

    /// Removes the caller from `group`; `false` if it was not a member.
    #[napi]
    pub fn remove_from_group(&self, env: Env, group: String) -> napi::Result<bool> {
        self.inner
            .groups()
            .remove(self.inner.connection_id(), &group)
            .map_err(|e| registry_error(e).into_napi(&env))
    }

    /// Calls `method` on the caller and resolves to its answer (a client result). Rejects
    /// with `ERR_INTERLINK_HUB` and the client's error text, `ERR_INTERLINK_TIMEOUT` when it
    /// does not answer in time, `ERR_INTERLINK_CLOSED` when the connection ends.
    #[napi(
        ts_args_type = "method: string, ...args: any[]",
        ts_return_type = "Promise<any>"
    )]
    pub fn invoke_caller<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: Vec<HubValue>,
    ) -> napi::Result<PromiseRaw<'env, HubValue>> {
        let ctx = self.inner.clone();
        hub_promise(
            env,
            async move {
                let args = HubValue::to_raws(&args, ctx.protocol())?;
                let answer = ctx.invoke_caller(&method, args).await?;
                Ok(HubValue::from_raw(&answer)?)
            },
            |_, v| Ok(v),
        )
    }

    /// Ends the caller's connection with a Close message (`error` shown to the client;
    /// `allowReconnect` lets it reconnect automatically).
    #[napi]
    pub fn close(
        &self,
        env: Env,
        error: Option<String>,
        allow_reconnect: Option<bool>,
    ) -> napi::Result<()> {
        self.inner
            .close(error, allow_reconnect.unwrap_or(false))
            .map_err(|e| HubBindError::from(e).into_napi(&env))
    }
}

/// Chooses the connections a fire-and-forget call goes to.
#[napi]
pub struct HubClients {
    inner: Clients,
}

impl HubClients {
    /// The clients of a hub.
    pub fn new(inner: Clients) -> Self {
        HubClients { inner }
    }
}

#[napi]
impl HubClients {
    /// Every connection.
    #[napi(getter)]
    pub fn all(&self) -> HubClientProxy {
        HubClientProxy::new(self.inner.all())
    }

    /// The caller (no one outside of a method).
    #[napi(getter)]
    pub fn caller(&self) -> HubClientProxy {
        HubClientProxy::new(self.inner.caller())
    }

    /// Every connection but the caller.
    #[napi(getter)]
    pub fn others(&self) -> HubClientProxy {
        HubClientProxy::new(self.inner.others())
    }

    /// Every connection but these.
    #[napi]
    pub fn all_except(&self, connection_ids: Vec<String>) -> HubClientProxy {
        HubClientProxy::new(self.inner.all_except(connection_ids))
    }

    /// One connection.
    #[napi]
    pub fn client(&self, connection_id: String) -> HubClientProxy {
        HubClientProxy::new(self.inner.client(&connection_id))
    }

    /// Several connections.
    #[napi]
    pub fn clients(&self, connection_ids: Vec<String>) -> HubClientProxy {
        HubClientProxy::new(self.inner.clients(connection_ids))
    }

    /// The members of a group.
    #[napi]
    pub fn group(&self, name: String) -> HubClientProxy {
        HubClientProxy::new(self.inner.group(&name))
    }

    /// The members of a group but these connections.
    #[napi]
    pub fn group_except(&self, name: String, connection_ids: Vec<String>) -> HubClientProxy {
        HubClientProxy::new(self.inner.group_except(&name, connection_ids))
    }

    /// The members of a group but the caller.
    #[napi]
    pub fn others_in_group(&self, name: String) -> HubClientProxy {
        HubClientProxy::new(self.inner.others_in_group(&name))
    }

    /// Every connection of a user.
    #[napi]
    pub fn user(&self, user_id: String) -> HubClientProxy {
        HubClientProxy::new(self.inner.user(&user_id))
    }
}

/// A chosen set of connections.
#[napi]
pub struct HubClientProxy {
    inner: ClientProxy,
}

impl HubClientProxy {
    fn new(inner: ClientProxy) -> Self {
        HubClientProxy { inner }
    }

    /// Sends `method(args…)` to the chosen connections; how many it was queued on.
    pub fn deliver(
        proxy: &ClientProxy,
        method: &str,
        args: &[HubValue],
    ) -> Result<u32, HubBindError> {
        let args = HubValue::to_raws(args, HubProtocol::MessagePack)?;
        let reached = proxy.send(method, args)?;
        Ok(u32::try_from(reached).unwrap_or(u32::MAX))
    }
}

#[napi]
impl HubClientProxy {
    /// Calls `method(...args)` on every chosen connection without waiting for anything;
    /// returns how many connections it was queued on.
    #[napi(ts_args_type = "method: string, ...args: any[]")]
    pub fn send(&self, env: &Env, method: String, args: Vec<HubValue>) -> napi::Result<u32> {
        Self::deliver(&self.inner, &method, &args).map_err(|e| e.into_napi(env))
    }
}

/// Group membership (groups exist while they have members).
#[napi]
pub struct HubGroups {
    inner: Groups,
}

impl HubGroups {
    /// The groups of a hub.
    pub fn new(inner: Groups) -> Self {
        HubGroups { inner }
    }
}

#[napi]
impl HubGroups {
    /// Adds a connection to a group; `false` if it already was a member. Throws
    /// `ERR_INTERLINK_INVALID_ARGUMENT` for an unknown connection.
    #[napi]
    pub fn add(&self, env: Env, connection_id: String, group: String) -> napi::Result<bool> {
        self.inner
            .add(&connection_id, &group)
            .map_err(|e| registry_error(e).into_napi(&env))
    }

    /// Removes a connection from a group; `false` if it was not a member.
    #[napi]
    pub fn remove(&self, env: Env, connection_id: String, group: String) -> napi::Result<bool> {
        self.inner
            .remove(&connection_id, &group)
            .map_err(|e| registry_error(e).into_napi(&env))
    }
}

/// The rest-parameter forms of `invokeCaller` and `send`.
pub fn install_rest(env: &Env, exports: &Object) -> napi::Result<()> {
    install::<HubCallContext, _>(
        env,
        exports,
        "HubCallContext",
        "invokeCaller",
        &["method"],
        false,
        |c, env, a: RestArgs| {
            let [method] = <[String; 1]>::try_from(a.fixed).unwrap_or_default();
            Ok(c.invoke_caller(env, method, a.values)?.raw())
        },
    )?;
    install::<HubClientProxy, _>(
        env,
        exports,
        "HubClientProxy",
        "send",
        &["method"],
        false,
        |c, env, a: RestArgs| {
            let [method] = <[String; 1]>::try_from(a.fixed).unwrap_or_default();
            let n = c.send(env, method, a.values)?;
            // SAFETY: on the JavaScript thread of `env`.
            unsafe { <u32 as napi::bindgen_prelude::ToNapiValue>::to_napi_value(env.raw(), n) }
        },
    )
}
