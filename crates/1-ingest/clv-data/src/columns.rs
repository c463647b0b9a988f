//! Which input column holds what: explicit `--*-col` choices (by name or 1-based position) and
//! auto-detection from common export headers (Shopify, WooCommerce, the UCI Online Retail set, …).

use crate::DataError;
use std::fmt;

/// What a column means to clv.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Date,
    Amount,
    Order,
    Sku,
    Quantity,
    Price,
    /// A product's name or description, shown beside its SKU.
    Description,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Customer,
        Role::Date,
        Role::Amount,
        Role::Order,
        Role::Sku,
        Role::Quantity,
        Role::Price,
        Role::Description,
    ];

    pub fn flag(self) -> &'static str {
        match self {
            Role::Customer => "--customer-col",
            Role::Date => "--date-col",
            Role::Amount => "--amount-col",
            Role::Order => "--order-col",
            Role::Sku => "--sku-col",
            Role::Quantity => "--quantity-col",
            Role::Price => "--price-col",
            Role::Description => "--description-col",
        }
    }

    /// Normalised header names (lower case, letters and digits only) recognised for this role,
    /// best first.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Role::Customer => &[
                "customerid",
                "customer",
                "customerno",
                "customernumber",
                "custid",
                "clientid",
                "client",
                "userid",
                "user",
                "buyerid",
                "memberid",
                "accountid",
                "shopperid",
                "customeremail",
                "email",
                "billingemail",
                "cust",
                "customeruniqueid",
                "id",
            ],
            Role::Date => &[
                "orderdate",
                "date",
                "createdat",
                "invoicedate",
                "transactiondate",
                "purchasedate",
                "orderedat",
                "processedat",
                "paidat",
                "placedat",
                "datetime",
                "timestamp",
                "created",
                "time",
                "saledate",
                "orderpurchasetimestamp",
                "eventtime",
                "eventdate",
                "occurredat",
                "visitdate",
                "bookingdate",
            ],
            Role::Amount => &[
                "amount",
                "total",
                "ordertotal",
                "totalprice",
                "totalamount",
                "grandtotal",
                "revenue",
                "sales",
                "netsales",
                "value",
                "monetaryvalue",
                "spend",
                "dollars",
                "dollarvalue",
                "subtotal",
                "paymentvalue",
            ],
            Role::Order => &[
                "orderid",
                "ordernumber",
                "orderno",
                "order",
                "invoiceno",
                "invoice",
                "invoiceid",
                "invoicenumber",
                "transactionid",
                "receiptid",
            ],
            Role::Sku => &[
                "sku",
                "productid",
                "lineitemsku",
                "variantsku",
                "stockcode",
                "itemid",
                "productsku",
                "articleid",
                "product",
                "item",
            ],
            Role::Quantity => &["quantity", "qty", "lineitemquantity", "units", "unitssold"],
            Role::Price => &[
                "unitprice",
                "price",
                "lineitemprice",
                "itemprice",
                "priceeach",
            ],
            Role::Description => &[
                "description",
                "productname",
                "productdescription",
                "producttitle",
                "itemname",
                "lineitemname",
                // Not a bare `name`: in customer and order exports it is the customer's or the
                // order's name (Shopify's `Name` is `#1001`).
                "title",
            ],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Customer => "customer",
            Role::Date => "date",
            Role::Amount => "amount",
            Role::Order => "order",
            Role::Sku => "sku",
            Role::Quantity => "quantity",
            Role::Price => "price",
            Role::Description => "description",
        })
    }
}

/// The user's column choices, as typed: a header name or a 1-based position.
#[derive(Debug, Clone, Default)]
pub struct ColumnSpec {
    pub customer: Option<String>,
    pub date: Option<String>,
    pub amount: Option<String>,
    pub order: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<String>,
    pub price: Option<String>,
    pub description: Option<String>,
}

impl ColumnSpec {
    fn get(&self, role: Role) -> Option<&str> {
        match role {
            Role::Customer => self.customer.as_deref(),
            Role::Date => self.date.as_deref(),
            Role::Amount => self.amount.as_deref(),
            Role::Order => self.order.as_deref(),
            Role::Sku => self.sku.as_deref(),
            Role::Quantity => self.quantity.as_deref(),
            Role::Price => self.price.as_deref(),
            Role::Description => self.description.as_deref(),
        }
    }
}

/// One resolved column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Column {
    /// 0-based index in the record.
    pub index: usize,
    /// The header name, or `column N` (1-based) without a header.
    pub name: String,
    /// True when clv found it by its header name rather than being told.
    pub detected: bool,
}

/// The mapping used to read a file; printed so the user can check it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnMapping {
    pub columns: Vec<(Role, Column)>,
}

impl ColumnMapping {
    pub fn get(&self, role: Role) -> Option<&Column> {
        self.columns
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, c)| c)
    }

    /// True when rows carry a value (an amount, or a price).
    pub fn has_value(&self) -> bool {
        self.get(Role::Amount).is_some() || self.get(Role::Price).is_some()
    }

    /// The largest index any role reads, so short rows can be told apart.
    pub fn widest(&self) -> usize {
        self.columns.iter().map(|(_, c)| c.index).max().unwrap_or(0)
    }

    /// Find each filter's column (by header name, or a 1-based position).
    pub fn resolve_filters(
        filters: &[crate::rules::RowFilter],
        header: Option<&[String]>,
        width: usize,
    ) -> Result<Vec<crate::rules::ResolvedFilter>, DataError> {
        filters
            .iter()
            .map(|f| {
                let found = f.column.split('|').find_map(|name| {
                    explicit(Role::Customer, name, header, width)
                        .ok()
                        .map(|c| c.index)
                });
                let index = found.ok_or_else(|| {
                    DataError::Columns(format!(
                        "the filter on `{}`: no such column; {}",
                        f.column,
                        match header {
                            Some(h) => format!("the header has: {}", h.join(", ")),
                            None => "the file has no header row, so give a 1-based position".into(),
                        }
                    ))
                })?;
                Ok(crate::rules::ResolvedFilter {
                    index,
                    op: f.op,
                    value: f.value.trim().as_bytes().to_vec(),
                })
            })
            .collect()
    }

    /// Resolve the user's choices against a header (if the file has one) and the record width.
    pub fn resolve(
        spec: &ColumnSpec,
        header: Option<&[String]>,
        width: usize,
    ) -> Result<Self, DataError> {
        let mut columns: Vec<(Role, Column)> = Vec::new();
        for role in Role::ALL {
            let column = match spec.get(role) {
                Some(choice) => Some(explicit(role, choice, header, width)?),
                None => header.and_then(|h| detect(role, h, &columns)),
            };
            if let Some(c) = column {
                columns.push((role, c));
            }
        }
        let mapping = ColumnMapping { columns };
        let missing: Vec<Role> = [Role::Customer, Role::Date]
            .into_iter()
            .filter(|r| mapping.get(*r).is_none())
            .collect();
        // Without an amount (or price) column every order is worth 0: an event log of visits
        // or bookings still has purchases to predict.
        if !missing.is_empty() {
            let needed: Vec<String> = missing.iter().map(|r| r.flag().to_string()).collect();
            let found = match header {
                Some(h) => format!("the header has: {}", h.join(", ")),
                None => format!(
                    "the file has no header row, so give columns by 1-based position (it has {width} columns)"
                ),
            };
            return Err(DataError::Columns(format!(
                "could not tell which column is which: pass {}; {found}",
                needed.join(", ")
            )));
        }
        Ok(mapping)
    }
}

fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn explicit(
    role: Role,
    choice: &str,
    header: Option<&[String]>,
    width: usize,
) -> Result<Column, DataError> {
    if let Some(h) = header {
        let wanted = choice.trim();
        let found = h.iter().position(|name| name.trim() == wanted).or_else(|| {
            h.iter()
                .position(|name| normalise(name) == normalise(wanted))
        });
        if let Some(index) = found {
            return Ok(Column {
                index,
                name: h[index].trim().to_string(),
                detected: false,
            });
        }
    }
    match choice.trim().parse::<usize>() {
        Ok(pos) if pos >= 1 && pos <= width => Ok(Column {
            index: pos - 1,
            name: header
                .map(|h| h[pos - 1].trim().to_string())
                .unwrap_or_else(|| format!("column {pos}")),
            detected: false,
        }),
        Ok(pos) => Err(DataError::Columns(format!(
            "{} {pos}: the file has only {width} columns (positions start at 1)",
            role.flag()
        ))),
        Err(_) => Err(DataError::Columns(format!(
            "{} `{choice}`: no such column; {}",
            role.flag(),
            match header {
                Some(h) => format!("the header has: {}", h.join(", ")),
                None => "the file has no header row, so give a 1-based position".to_string(),
            }
        ))),
    }
}

fn detect(role: Role, header: &[String], taken: &[(Role, Column)]) -> Option<Column> {
    let names: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    role.synonyms().iter().find_map(|syn| {
        let index = names.iter().position(|n| n == syn)?;
        if taken.iter().any(|(_, c)| c.index == index) {
            return None;
        }
        Some(Column {
            index,
            name: header[index].trim().to_string(),
            detected: true,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &str) -> Vec<String> {
        names.split(',').map(str::to_string).collect()
    }

    fn resolved(spec: &ColumnSpec, names: Option<&str>, width: usize) -> Result<String, String> {
        let h = names.map(header);
        ColumnMapping::resolve(spec, h.as_deref(), width)
            .map(|m| {
                m.columns
                    .iter()
                    .map(|(r, c)| format!("{r}={}", c.index))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn detection_and_explicit_choices() {
        let none = ColumnSpec::default();
        // (choices, header, width, mapping or a fragment of the error)
        type Case<'a> = (
            &'a ColumnSpec,
            Option<&'a str>,
            usize,
            Result<&'a str, &'a str>,
        );
        let cases: &[Case] = &[
            (
                &none,
                Some("Customer ID,Order Date,Total,Name"),
                4,
                Ok("customer=0 date=1 amount=2"),
            ),
            (
                &none,
                Some("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"),
                8,
                Ok("customer=6 date=4 order=0 sku=1 quantity=3 price=5 description=2"),
            ),
            (
                &none,
                Some("email,created_at,subtotal,total"),
                4,
                Ok("customer=0 date=1 amount=3"),
            ),
            (&none, None, 5, Err("--customer-col, --date-col")),
            (&none, Some("who,when,what"), 3, Err("the header has: who, when, what")),
            // An event log: no amount is no refusal.
            (&none, Some("user_id,timestamp,page"), 3, Ok("customer=0 date=1")),

        ];
        for (spec, names, width, want) in cases {
            let got = resolved(spec, *names, *width);
            match want {
                Ok(w) => assert_eq!(got.as_deref(), Ok(*w), "{names:?}"),
                Err(fragment) => assert!(
                    got.as_ref().is_err_and(|e| e.contains(fragment)),
                    "{names:?}: {got:?}"
                ),
            }
        }
        let by_position = ColumnSpec {
            customer: Some("2".into()),
            date: Some("3".into()),
            amount: Some("5".into()),
            ..Default::default()
        };
        assert_eq!(
            resolved(&by_position, None, 5).as_deref(),
            Ok("customer=1 date=2 amount=4")
        );
        assert!(resolved(&by_position, None, 4)
            .unwrap_err()
            .contains("only 4 columns"));
        let by_name = ColumnSpec {
            customer: Some("who".into()),
            date: Some("when".into()),
            amount: Some("what".into()),
            ..Default::default()
        };
        assert_eq!(
            resolved(&by_name, Some("who,when,what"), 3).as_deref(),
            Ok("customer=0 date=1 amount=2")
        );
    }
}
