//! The WAF's IP sets as a mirror of the app's block list (SR-40): what the pipeline refuses
//! with a 403, the WAF refuses at the edge, before a function runs. One set per address
//! family (WAF sets hold one), replaced whole when they differ from the list, under WAF's
//! lock token (a concurrent change makes the next sync try again).

use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::error::DisplayErrorContext;
use aws_sdk_wafv2::types::Scope;

/// One IP set: its name and id, as `template.yaml` makes them.
#[derive(Debug, Clone)]
pub struct IpSet {
    pub name: String,
    pub id: String,
}

/// The two sets the web ACL blocks.
#[derive(Debug, Clone)]
pub struct WafIpSets {
    client: Client,
    v4: IpSet,
    v6: IpSet,
}

impl WafIpSets {
    pub fn new(client: Client, v4: IpSet, v6: IpSet) -> Self {
        Self { client, v4, v6 }
    }

    /// Makes the sets hold exactly `addresses` (as single-address CIDRs); says whether it
    /// changed either.
    pub async fn sync(&self, addresses: &[String]) -> Result<bool, String> {
        let (mut v4, mut v6): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for address in addresses {
            match address.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(ip)) => v4.push(format!("{ip}/32")),
                Ok(std::net::IpAddr::V6(ip)) => v6.push(format!("{ip}/128")),
                Err(_) => tracing::warn!(address, "not an address: left out of the WAF"),
            }
        }
        let changed_v4 = self.replace(&self.v4, v4).await?;
        let changed_v6 = self.replace(&self.v6, v6).await?;
        Ok(changed_v4 || changed_v6)
    }

    async fn replace(&self, set: &IpSet, mut wanted: Vec<String>) -> Result<bool, String> {
        let current = self
            .client
            .get_ip_set()
            .name(&set.name)
            .id(&set.id)
            .scope(Scope::Regional)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        let lock = current.lock_token().unwrap_or_default().to_owned();
        let mut held: Vec<String> = current.ip_set().map(|s| s.addresses().to_vec()).unwrap_or_default();
        held.sort();
        wanted.sort();
        wanted.dedup();
        if held == wanted {
            return Ok(false);
        }
        self.client
            .update_ip_set()
            .name(&set.name)
            .id(&set.id)
            .scope(Scope::Regional)
            .set_addresses(Some(wanted))
            .lock_token(lock)
            .send()
            .await
            .map_err(|e| DisplayErrorContext(e).to_string())?;
        Ok(true)
    }
}
