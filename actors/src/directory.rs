//! All offices of the deployment, each behind its handle, in the order a person browses them.

use std::collections::BTreeMap;
use std::sync::Arc;

use actix::ArbiterHandle;
use prepazka_models::ids::OfficeId;
use prepazka_store::StoreError;

use crate::office::{OfficeDeps, OfficeHandle};

#[derive(Clone, Default)]
pub struct Directory {
    offices: BTreeMap<OfficeId, OfficeHandle>,
}

impl Directory {
    /// Starts an actor for every office in the store.
    pub async fn start(deps: Arc<OfficeDeps>, arbiter: &ArbiterHandle) -> Result<Self, StoreError> {
        let offices = deps.store.offices().await?;
        let offices = offices.into_iter().map(|office| (office.id.clone(), OfficeHandle::start(office, deps.clone(), arbiter))).collect();
        Ok(Self { offices })
    }

    pub fn get(&self, id: &OfficeId) -> Option<&OfficeHandle> {
        self.offices.get(id)
    }

    /// Offices sorted by region, then city, then name.
    pub fn list(&self) -> Vec<&OfficeHandle> {
        let mut list: Vec<&OfficeHandle> = self.offices.values().collect();
        list.sort_by(|a, b| {
            let (a, b) = (a.office(), b.office());
            (a.region, &a.city, &a.name).cmp(&(b.region, &b.city, &b.name))
        });
        list
    }

    pub fn len(&self) -> usize {
        self.offices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offices.is_empty()
    }
}
