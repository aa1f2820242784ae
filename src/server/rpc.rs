//! The RPCs the server answers, as one value each: what the edge sheds and bounds by, and what
//! the metrics label calls with. A request path outside them is [`Rpc::Unknown`], so that a
//! client cannot grow the number of metric series by calling made-up methods.

/// One RPC the server serves, or none of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rpc {
    /// `sla.v1.SlaEvaluator/ListPolicies`.
    ListPolicies,
    /// `sla.v1.SlaEvaluator/GetPolicy`.
    GetPolicy,
    /// `sla.v1.SlaEvaluator/Evaluate`, the one client stream.
    Evaluate,
    /// `sla.v1.SlaEvaluator/ClassifyOutages`.
    ClassifyOutages,
    /// `sla.v1.SlaEvaluator/GetSigningKeys`.
    GetSigningKeys,
    /// `sla.v1.SlaEvaluator/ListStatements`.
    ListStatements,
    /// `sla.v1.SlaEvaluator/GetStatement`.
    GetStatement,
    /// `grpc.health.v1.Health/Check`.
    HealthCheck,
    /// `grpc.health.v1.Health/Watch`.
    HealthWatch,
    /// `grpc.reflection.v1.ServerReflection/ServerReflectionInfo`.
    Reflection,
    /// `grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo`.
    ReflectionV1Alpha,
    /// A path the server does not serve.
    Unknown,
}

impl Rpc {
    /// Every RPC the server serves.
    pub(crate) const SERVED: [Rpc; 11] = [
        Rpc::ListPolicies,
        Rpc::GetPolicy,
        Rpc::Evaluate,
        Rpc::ClassifyOutages,
        Rpc::GetSigningKeys,
        Rpc::ListStatements,
        Rpc::GetStatement,
        Rpc::HealthCheck,
        Rpc::HealthWatch,
        Rpc::Reflection,
        Rpc::ReflectionV1Alpha,
    ];

    /// The RPC a request path (`/service/method`) names.
    pub(crate) fn from_path(path: &str) -> Rpc {
        let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return Rpc::Unknown;
        };
        Rpc::SERVED
            .into_iter()
            .find(|rpc| rpc.service() == service && rpc.method() == method)
            .unwrap_or(Rpc::Unknown)
    }

    /// The fully qualified service, e.g. `sla.v1.SlaEvaluator`.
    pub(crate) fn service(self) -> &'static str {
        match self {
            Rpc::ListPolicies
            | Rpc::GetPolicy
            | Rpc::Evaluate
            | Rpc::ClassifyOutages
            | Rpc::GetSigningKeys
            | Rpc::ListStatements
            | Rpc::GetStatement => "sla.v1.SlaEvaluator",
            Rpc::HealthCheck | Rpc::HealthWatch => "grpc.health.v1.Health",
            Rpc::Reflection => "grpc.reflection.v1.ServerReflection",
            Rpc::ReflectionV1Alpha => "grpc.reflection.v1alpha.ServerReflection",
            Rpc::Unknown => "unknown",
        }
    }

    /// The method, e.g. `Evaluate`.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Rpc::ListPolicies => "ListPolicies",
            Rpc::GetPolicy => "GetPolicy",
            Rpc::Evaluate => "Evaluate",
            Rpc::ClassifyOutages => "ClassifyOutages",
            Rpc::GetSigningKeys => "GetSigningKeys",
            Rpc::ListStatements => "ListStatements",
            Rpc::GetStatement => "GetStatement",
            Rpc::HealthCheck => "Check",
            Rpc::HealthWatch => "Watch",
            Rpc::Reflection | Rpc::ReflectionV1Alpha => "ServerReflectionInfo",
            Rpc::Unknown => "unknown",
        }
    }

    /// `unary`, `client_stream`, `server_stream` or `bidi_stream`, as grpc-ecosystem's metrics
    /// label the type.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Rpc::ListPolicies
            | Rpc::GetPolicy
            | Rpc::ClassifyOutages
            | Rpc::GetSigningKeys
            | Rpc::ListStatements
            | Rpc::GetStatement
            | Rpc::HealthCheck => "unary",
            Rpc::Evaluate => "client_stream",
            Rpc::HealthWatch => "server_stream",
            Rpc::Reflection | Rpc::ReflectionV1Alpha => "bidi_stream",
            Rpc::Unknown => "unknown",
        }
    }

    /// A call of the SLA service that does real work, shed when the server is full; policy
    /// lookups, health and reflection never are, so a client can always learn what the server
    /// offers and probes always get an answer.
    pub(crate) fn is_work(self) -> bool {
        matches!(self, Rpc::Evaluate | Rpc::ClassifyOutages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_path_names_its_rpc_and_no_other_does() {
        for rpc in Rpc::SERVED {
            let path = format!("/{}/{}", rpc.service(), rpc.method());
            assert_eq!(Rpc::from_path(&path), rpc, "{path}");
        }
        for path in [
            "",
            "/",
            "/sla.v1.SlaEvaluator",
            "/sla.v1.SlaEvaluator/Nope",
            "x/y/z",
        ] {
            assert_eq!(Rpc::from_path(path), Rpc::Unknown, "{path}");
        }
    }
}
