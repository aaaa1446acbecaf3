// Interim: replaced by the real decoration module.
pub struct ListDecoration<'a> {
    pub list_name: &'a str,
    pub display_name: &'a str,
    pub domain: &'a str,
    pub base_url: &'a str,
    pub posting_allowed_to_all_members: bool,
    pub subject_prefix: Option<&'a str>,
    pub footer: Option<&'a str>,
}
#[derive(Debug, thiserror::Error)]
#[error("cannot decorate")]
pub struct DecorateError;
pub fn decorate(raw: &[u8], _list: &ListDecoration) -> Result<Vec<u8>, DecorateError> {
    Ok(raw.to_vec())
}
